package dev.invalidator.workflows;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.DeadLetters;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import dev.invalidator.core.Target;
import dev.invalidator.core.TraceContext;
import dev.invalidator.http.WebhookTarget;
import dev.invalidator.testing.TestServers;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;

/**
 * A real PostgreSQL schema of the test's own for the engine, a WireMock server playing every HTTP
 * receiver (204 to any POST under {@code /hooks/}), and engines that can be started and killed.
 */
final class WorkflowFixture implements AutoCloseable {
  static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  final String schema = "wf_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  final WireMockServer http = new WireMockServer(wireMockConfig().dynamicPort());
  final List<DeadLetter> deadLetters = new CopyOnWriteArrayList<>();
  final HikariDataSource adminDataSource;
  private final List<HikariDataSource> engineDataSources = new ArrayList<>();

  WorkflowFixture() {
    http.start();
    http.stubFor(post(urlPathMatching("/hooks/.*")).willReturn(aResponse().withStatus(204)));
    adminDataSource = dataSource(4);
  }

  static HikariDataSource dataSource(int size) {
    HikariConfig c = new HikariConfig();
    c.setJdbcUrl(TestServers.postgresUrl());
    c.setMaximumPoolSize(size);
    return new HikariDataSource(c);
  }

  DeadLetters deadLetterSink() {
    return deadLetters::add;
  }

  /** A Standard Webhooks target posting to {@code /hooks/<step>}, named as configuration does. */
  Target webhook(String workflow, String step) {
    return WebhookTarget.builder()
        .name(workflow + "." + step)
        .url(http.baseUrl() + "/hooks/" + step)
        .secret(SECRET)
        .build();
  }

  /** A started engine with a connection pool of its own, which {@link #kill} closes with it. */
  Engine start(WorkflowEngine.Builder builder) {
    HikariDataSource ds = dataSource(12);
    engineDataSources.add(ds);
    WorkflowEngine engine =
        builder
            .dataSource(ds)
            .schema(schema)
            .pollInterval(java.time.Duration.ofMillis(50))
            .deadLetters(deadLetterSink())
            .build();
    engine.start();
    return new Engine(engine, ds);
  }

  /** An engine and its pool: killing it closes both, as a process that dies loses both. */
  record Engine(WorkflowEngine engine, HikariDataSource dataSource) {
    void kill() {
      engine.close();
      dataSource.close();
    }
  }

  WorkflowAdmin admin() {
    return new WorkflowAdmin(adminDataSource, schema, java.time.Clock.systemUTC());
  }

  static InvalidationEvent event(String tenant, String type) {
    return event(tenant, type, TraceContext.NONE);
  }

  static InvalidationEvent event(String tenant, String type, TraceContext trace) {
    return InvalidationEvent.builder()
        .tenant(tenant)
        .aggregate("plan", "p-" + UUID.randomUUID())
        .version(3)
        .eventType(type)
        .payload(new Payload(List.of("summary"), List.of(), List.of("plan")))
        .trace(trace)
        .createdAt(Instant.now().truncatedTo(ChronoUnit.MILLIS))
        .build();
  }

  /** Every POST the receivers got, oldest first. */
  List<LoggedRequest> requests() {
    return http.getAllServeEvents().stream()
        .map(e -> e.getRequest())
        .sorted(Comparator.comparing(LoggedRequest::getLoggedDate))
        .collect(Collectors.toList());
  }

  /** How often each {@code webhook-id} (the idempotency key) arrived. */
  Map<String, Long> receiptsByKey() {
    return requests().stream()
        .collect(Collectors.groupingBy(r -> r.getHeader("webhook-id"), Collectors.counting()));
  }

  @Override
  public void close() throws java.sql.SQLException {
    engineDataSources.forEach(HikariDataSource::close);
    try (Connection c = adminDataSource.getConnection();
        Statement st = c.createStatement()) {
      st.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
    adminDataSource.close();
    http.stop();
  }
}
