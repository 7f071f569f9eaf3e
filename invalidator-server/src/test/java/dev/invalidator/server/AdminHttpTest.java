package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.core.WorkerListeners;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.server.observe.AdminServer;
import io.opentelemetry.api.OpenTelemetry;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The admin HTTP server of a running pipeline against real PostgreSQL and Redis: every metric of
 * DESIGN.md on /metrics, health, /api/status, and the dead-letter API behind its token.
 */
class AdminHttpTest {
  static final List<String> DESIGN_METRICS =
      List.of(
          "invalidator_outbox_pending",
          "invalidator_outbox_oldest_age_seconds",
          "invalidator_relay_published_total",
          "invalidator_stream_pending",
          "invalidator_stream_lag_entries",
          "invalidator_queue_lag_seconds_bucket",
          "invalidator_commit_to_apply_seconds_bucket",
          "invalidator_applied_total",
          "invalidator_retries_total",
          "invalidator_dlq_total",
          "invalidator_dlq_depth",
          "invalidator_dedupe_hits_total",
          "invalidator_fill_rejected_total",
          "invalidator_tenant_staleness_seconds",
          "invalidator_circuit_breaker_state");

  private static final ObjectMapper JSON = new ObjectMapper();

  private TestEnv env;
  private Observability observability;
  private Pipeline pipeline;
  private CacheClient cache;

  private URI start(Map<String, String> settings) {
    env = new TestEnv(settings);
    observability =
        Observability.create(env.cfg, Daemon.Role.ALL, OpenTelemetry.noop(), Clock.systemUTC());
    cache =
        CacheClient.builder()
            .redisClient(env.servers.redis())
            .keyScheme(env.keys)
            .meterRegistry(observability.metrics().registry())
            .build();
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
    AdminServer admin = observability.start(env.servers, pipeline);
    return admin.uri();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (pipeline != null) {
      pipeline.close();
    }
    if (observability != null) {
      observability.close();
    }
    if (cache != null) {
      cache.close();
    }
    if (env != null) {
      env.close();
    }
  }

  @Test
  void metricsEndpointExportsEveryDesignMetricWithHelpText() {
    URI base = start(Map.of("observability.tenants", "acme"));
    env.commit("acme", "a1", 1);
    env.servers.connection().sync().xadd(env.keys.stream(), Map.of("event", "{not json"));
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              String metrics = env.get(base, "metrics").body();
              assertThat(metrics)
                  .contains(
                      "invalidator_applied_total{result=\"applied\",target=\"redis\"} 1.0",
                      "invalidator_dlq_total{reason=\"poison\",target=\"*\"} 1.0",
                      "invalidator_dlq_depth 1.0",
                      "invalidator_relay_published_total 1.0");
            });
    String metrics = env.get(base, "metrics").body();
    for (String name : DESIGN_METRICS) {
      assertThat(metrics).as(name).containsPattern("(?m)^" + name + "[{ ]");
      String family = name.replaceAll("_(bucket|total)$", "");
      assertThat(metrics)
          .as("help of " + name)
          .containsPattern("(?m)^# HELP " + family + "(_total)? \\S");
    }
    assertThat(metrics)
        .contains("invalidator_tenant_staleness_seconds{tenant=\"acme\"}")
        .contains("invalidator_tenant_staleness_seconds{tenant=\"other\"}")
        .contains("invalidator_circuit_breaker_state{state=\"closed\",target=\"redis\"} 1.0")
        .contains("invalidator_commit_to_apply_seconds_bucket{target=\"redis\",le=\"0.1\"}")
        .contains("jvm_memory_used_bytes")
        .contains("process_cpu_usage")
        .contains("invalidator_relay_last_loop_age_seconds")
        .contains("invalidator_worker_last_loop_age_seconds");
  }

  @Test
  void readinessChecksEveryDependencyAndFailsWhenAWorkerStops() throws Exception {
    URI base = start(Map.of());
    assertThat(env.get(base, "health/live").statusCode()).isEqualTo(200);
    HttpResponse<String> ready = env.get(base, "health/ready");
    assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
    JsonNode checks = JSON.readTree(ready.body()).get("checks");
    assertThat(checks.fieldNames())
        .toIterable()
        .containsExactly("postgres", "redis", "relay", "worker-0", "worker-1");
    pipeline.workers().get(1).stop();
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () -> {
              HttpResponse<String> r = env.get(base, "health/ready");
              assertThat(r.statusCode()).isEqualTo(503);
              JsonNode body = JSON.readTree(r.body());
              assertThat(body.get("status").asText()).isEqualTo("DOWN");
              assertThat(body.at("/checks/worker-1/status").asText()).isEqualTo("DOWN");
              assertThat(body.at("/checks/worker-0/status").asText()).isEqualTo("UP");
            });
  }

  @Test
  void apiStatusShowsTheFiguresOfTheStatusCommandAndTheLiveOnes() throws Exception {
    URI base = start(Map.of("observability.tenants", "acme"));
    env.commit("acme", "a1", 1);
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              JsonNode s = JSON.readTree(env.get(base, "api/status").body());
              assertThat(s.get("applied_total").asLong()).isEqualTo(1);
              assertThat(s.at("/commit_to_apply/count").asLong()).isEqualTo(1);
            });
    JsonNode s = JSON.readTree(env.get(base, "api/status").body());
    assertThat(s.fieldNames())
        .toIterable()
        .contains(
            "outbox_pending",
            "outbox_oldest_age_seconds",
            "stream",
            "stream_length",
            "group",
            "stream_pending",
            "stream_lag_entries",
            "pending_by_consumer",
            "dlq_depth",
            "applied_per_second",
            "commit_to_apply",
            "tenant_staleness_seconds",
            "breakers");
    assertThat(s.get("stream").asText()).isEqualTo(env.keys.stream());
    assertThat(s.at("/breakers/redis").asText()).isEqualTo("closed");
    assertThat(s.get("tenant_staleness_seconds").findValuesAsText("tenant"))
        .containsExactlyInAnyOrder("acme", "other");
  }

  @Test
  void deadLetterRedriveAndDropNeedTheBearerToken() throws Exception {
    URI base = start(Map.of("admin.token", "s3cret-token"));
    env.servers.connection().sync().xadd(env.keys.stream(), Map.of("event", "{poison"));
    env.servers.connection().sync().xadd(env.keys.stream(), Map.of("event", "{poison 2"));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> JSON.readTree(env.get(base, "api/dlq").body()).get("dead_letters").size() == 2);
    JsonNode list = JSON.readTree(env.get(base, "api/dlq").body()).get("dead_letters");
    // Two worker threads dead-letter the two entries in either order: pick them by content.
    String first = null;
    String second = null;
    for (JsonNode d : list) {
      assertThat(d.at("/fields/reason").asText()).isEqualTo("poison");
      if ("{poison 2".equals(d.at("/fields/orig.event").asText())) {
        second = d.get("id").asText();
      } else {
        first = d.get("id").asText();
      }
    }
    assertThat(first).isNotNull();
    assertThat(second).isNotNull();

    assertThat(env.post(base, "api/dlq/" + first + "/drop", null).statusCode()).isEqualTo(401);
    assertThat(env.post(base, "api/dlq/" + first + "/drop", "wrong").statusCode()).isEqualTo(401);
    assertThat(env.servers.connection().sync().xlen(env.keys.deadLetters())).isEqualTo(2);

    HttpResponse<String> dropped = env.post(base, "api/dlq/" + first + "/drop", "s3cret-token");
    assertThat(dropped.statusCode()).as(dropped.body()).isEqualTo(200);
    assertThat(env.post(base, "api/dlq/" + first + "/drop", "s3cret-token").statusCode())
        .isEqualTo(404);

    long streamBefore = env.servers.connection().sync().xlen(env.keys.stream());
    HttpResponse<String> redriven =
        env.post(base, "api/dlq/" + second + "/redrive", "s3cret-token");
    assertThat(redriven.statusCode()).as(redriven.body()).isEqualTo(200);
    String newId = JSON.readTree(redriven.body()).get("stream_id").asText();
    assertThat(env.servers.connection().sync().xlen(env.keys.stream())).isEqualTo(streamBefore + 1);
    assertThat(
            env.servers
                .connection()
                .sync()
                .xrange(env.keys.stream(), io.lettuce.core.Range.create(newId, newId))
                .get(0)
                .getBody())
        .containsEntry("event", "{poison 2");
    // The redriven poison entry is dead-lettered again by the workers: nothing is lost.
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> env.servers.connection().sync().xlen(env.keys.deadLetters()) == 1);
  }

  @Test
  void deadLetterOperationsAreDisabledWithoutAConfiguredToken() {
    URI base = start(Map.of());
    HttpResponse<String> r = env.post(base, "api/dlq/1-0/drop", "anything");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).contains("admin.token");
    assertThat(env.get(base, "api/dlq").statusCode()).isEqualTo(200);
  }

  /** Every metric name an alert rule or dashboard query uses. */
  static List<String> metricNames(String text) {
    Matcher m = Pattern.compile("\\binvalidator_[a-z_]+").matcher(text);
    return m.results().map(r -> r.group()).distinct().toList();
  }
}
