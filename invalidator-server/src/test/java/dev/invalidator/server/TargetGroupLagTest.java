package dev.invalidator.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.core.Payload;
import dev.invalidator.core.WorkerListeners;
import io.opentelemetry.api.OpenTelemetry;
import java.net.URI;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The stream gauges per consumer group against real Redis: a CDN target whose receiver stalls falls
 * behind in its own group ({@code invalidator-cdn-fastly}), which shows as lag and pending on
 * {@code /metrics} (series {@code group="invalidator-cdn-fastly"}) and in {@code /api/status}'s
 * {@code target_groups}, while the workers' group ({@code group="invalidator"}) stays at 0; once
 * the receiver answers again both go back to 0.
 */
class TargetGroupLagTest {
  private static final String CDN_GROUP = "invalidator-cdn-fastly";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final WireMockServer http = new WireMockServer(options().dynamicPort());
  private TestEnv env;
  private Observability observability;
  private Pipeline pipeline;

  @AfterEach
  void tearDown() throws Exception {
    if (pipeline != null) {
      pipeline.close();
    }
    if (observability != null) {
      observability.close();
    }
    if (env != null) {
      env.close();
    }
    http.stop();
  }

  @Test
  void aTargetGroupThatFallsBehindShowsLagUntilItCatchesUp() throws Exception {
    http.start();
    // The first purge stalls the CDN worker for 4 s: what is committed meanwhile is not delivered
    // to its group.
    http.stubFor(
        post(urlEqualTo("/service/svc1/purge"))
            .willReturn(aResponse().withStatus(200).withFixedDelay(4_000)));
    env =
        new TestEnv(
            Map.of(
                "targets.cdn.provider", "fastly",
                "targets.cdn.endpoint", http.baseUrl(),
                "targets.cdn.service", "svc1",
                "targets.cdn.token", "fastly-token-123"));
    observability =
        Observability.create(env.cfg, Daemon.Role.ALL, OpenTelemetry.noop(), Clock.systemUTC());
    pipeline =
        new Pipeline(
            env.cfg,
            env.servers,
            Daemon.Role.ALL,
            WorkerListeners.all(observability.metrics().workerListener()),
            observability.metrics().relayListener(),
            Clock.systemUTC(),
            MessagingSpans.NOOP);
    pipeline.start();
    URI admin = observability.start(env.servers, pipeline).uri();

    commitTagged("a0");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> !http.findAll(postRequestedFor(urlEqualTo("/service/svc1/purge"))).isEmpty());
    for (int i = 1; i <= 5; i++) {
      commitTagged("a" + i);
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              String metrics = env.get(admin, "metrics").body();
              assertThat(gauge(metrics, "invalidator_stream_lag_entries", CDN_GROUP)).isEqualTo(5);
              assertThat(gauge(metrics, "invalidator_stream_pending", CDN_GROUP)).isEqualTo(1);
              assertThat(gauge(metrics, "invalidator_stream_lag_entries", "invalidator")).isZero();
              assertThat(gauge(metrics, "invalidator_stream_pending", "invalidator")).isZero();
              JsonNode group = targetGroup(env.get(admin, "api/status").body(), CDN_GROUP);
              assertThat(group.path("lag_entries").asLong()).isEqualTo(5);
              assertThat(group.path("pending").asLong()).isEqualTo(1);
            });

    http.resetAll();
    http.stubFor(post(urlEqualTo("/service/svc1/purge")).willReturn(aResponse().withStatus(200)));
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              String metrics = env.get(admin, "metrics").body();
              assertThat(gauge(metrics, "invalidator_stream_lag_entries", CDN_GROUP)).isZero();
              assertThat(gauge(metrics, "invalidator_stream_pending", CDN_GROUP)).isZero();
              JsonNode group = targetGroup(env.get(admin, "api/status").body(), CDN_GROUP);
              assertThat(group.path("lag_entries").asLong()).isZero();
              assertThat(group.path("pending").asLong()).isZero();
            });
    // The status page's stream card lists the group.
    assertThat(env.get(admin, "static/app.js").body()).contains("target_groups");
  }

  private void commitTagged(String id) throws Exception {
    try (Connection c = env.servers.dataSource().getConnection()) {
      c.setAutoCommit(false);
      env.writer.append(
          c,
          InvalidationEvent.builder()
              .tenant("acme")
              .aggregate("product", id)
              .version(1)
              .payload(new Payload(List.of(), List.of(), List.of("product-" + id)))
              .build());
      c.commit();
    }
  }

  /** The value of {@code name{group="<group>"}} on the scrape; fails when the series is absent. */
  static long gauge(String scrape, String name, String group) {
    Matcher m =
        Pattern.compile(
                "(?m)^" + name + "\\{group=\"" + Pattern.quote(group) + "\"\\} ([0-9.E+-]+)$")
            .matcher(scrape);
    assertThat(m.find()).as("%s{group=\"%s\"} on /metrics", name, group).isTrue();
    return (long) Double.parseDouble(m.group(1));
  }

  private static JsonNode targetGroup(String status, String group) throws Exception {
    for (JsonNode g : JSON.readTree(status).path("target_groups")) {
      if (g.path("group").asText().equals(group)) {
        return g;
      }
    }
    throw new AssertionError("no target group " + group + " in /api/status: " + status);
  }
}
