package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.CacheInspector;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.consistency.ConsistencyObserver;
import dev.invalidator.server.consistency.VersionQueries;
import dev.invalidator.server.observe.AdminServer;
import dev.invalidator.server.observe.InvalidatorMetrics;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.RedisClient;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The operations files: the alert rules pass {@code promtool check rules} and their unit tests
 * ({@code promtool test rules}), and every metric an alert rule or a dashboard panel queries is one
 * {@code /metrics} exports.
 */
class OpsFilesTest {
  static final Path OPS = Path.of("..", "ops");
  static final Path PROMTOOL = Path.of("/usr/bin/promtool");
  private static final Pattern METRIC = Pattern.compile("\\b(?:invalidator|jvm|process)_[a-z_]+");

  @Test
  void alertRulesPassPromtoolCheckAndTheirUnitTests() throws Exception {
    StatusPageBrowserIT.assumeInstalled(PROMTOOL);
    assertThat(run(OPS.resolve("prometheus"), PROMTOOL.toString(), "check", "rules", "alerts.yml"))
        .contains("SUCCESS");
    assertThat(
            run(OPS.resolve("prometheus"), PROMTOOL.toString(), "test", "rules", "alerts_test.yml"))
        .contains("SUCCESS");
  }

  @Test
  void everyMetricTheAlertsAndTheDashboardQueryIsExported() throws Exception {
    String alerts = Files.readString(OPS.resolve("prometheus/alerts.yml"));
    JsonNode dashboard =
        new ObjectMapper().readTree(OPS.resolve("grafana/invalidator.json").toFile());
    List<String> exprs = new ArrayList<>();
    dashboard.findValues("expr").forEach(e -> exprs.add(e.asText()));
    assertThat(exprs).hasSizeGreaterThan(10);
    String referenced = alerts + "\n" + String.join("\n", exprs);

    String scrape = scrapeOfAFullProcess();
    List<String> names =
        METRIC.matcher(referenced).results().map(r -> r.group()).distinct().toList();
    assertThat(names)
        .contains(
            "invalidator_outbox_oldest_age_seconds",
            "invalidator_tenant_staleness_seconds",
            "invalidator_commit_to_apply_seconds_bucket",
            "invalidator_circuit_breaker_state",
            "invalidator_ready",
            "invalidator_fill_rejected_total",
            "invalidator_consistency_ratio",
            "invalidator_consistency_nines",
            "invalidator_consistency_checks_total",
            "invalidator_cdc_slot_wal_status",
            "invalidator_cdc_slot_active",
            "invalidator_cdc_slot_lag_bytes",
            "invalidator_cdc_slot_safe_wal_size_bytes");
    for (String name : names) {
      assertThat(scrape).as("/metrics exports " + name).containsPattern("(?m)^" + name + "[{ ]");
    }
    // The panels of the status page are on the dashboard too.
    for (String figure :
        List.of(
            "invalidator_outbox_oldest_age_seconds",
            "invalidator_stream_lag_entries",
            "invalidator_applied_total",
            "invalidator_commit_to_apply_seconds_bucket",
            "invalidator_tenant_staleness_seconds",
            "invalidator_dlq_depth",
            "invalidator_circuit_breaker_state")) {
      assertThat(String.join("\n", exprs)).as("dashboard shows " + figure).contains(figure);
    }
  }

  /**
   * /metrics of a process with a worker, a relay (with the CDC relay's slot gauges), the
   * consistency observer and a CacheClient, as the demo runs them.
   */
  private static String scrapeOfAFullProcess() throws Exception {
    RedisClient redis = RedisClient.create(TestServers.redisUrl());
    try (InvalidatorMetrics metrics =
            new InvalidatorMetrics(List.of("redis"), List.of("acme"), Clock.systemUTC());
        CacheClient cache =
            CacheClient.builder()
                .redisUrl(TestServers.redisUrl())
                .meterRegistry(metrics.registry())
                .build();
        CacheInspector inspector = CacheInspector.create(redis, KeyScheme.defaults());
        ConsistencyObserver observer =
            new ConsistencyObserver(
                new InvalidatorConfig.Observer(
                    true,
                    0.01,
                    0,
                    List.of(Duration.ofSeconds(1), Duration.ofSeconds(10), Duration.ofMinutes(1)),
                    Map.of("account", "SELECT version FROM account WHERE tenant_id = ? AND id = ?"),
                    20,
                    Duration.ofMinutes(5)),
                List.of("acme"),
                inspector,
                new VersionQueries(null, Map.of()),
                metrics.registry(),
                Clock.systemUTC())) {
      metrics.bindLoops(Instant::now, List.of(Instant::now));
      // A sampled readiness check (postgres, redis, kafka), as MetricsSampler binds them.
      metrics.bindReadiness("kafka", () -> true);
      // A CDC relay's slot gauges (relay.mode: cdc), as the daemon binds them.
      metrics.bindCdcSlot("outbox_cdc_slot");
      // The stream gauges of the workers' group and of a CDN target's group, as the sampler binds
      // them.
      metrics.bindStreamGroup("invalidator", true);
      metrics.bindStreamGroup("invalidator-cdn-fastly", false);
      assertThat(cache.stats().fillsRejected()).isZero();
      assertThat(observer.queued()).isZero();
      assertThat(inspector.keyScheme().prefix()).isEqualTo(KeyScheme.DEFAULT_PREFIX);
      AdminServer admin =
          AdminServer.start("127.0.0.1", 0, metrics, List.of(), Map::of, null, null);
      try {
        HttpResponse<String> r =
            HttpClient.newHttpClient()
                .send(
                    HttpRequest.newBuilder(admin.uri().resolve("metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type"))
            .hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
        return r.body();
      } finally {
        admin.close();
      }
    } finally {
      redis.shutdown();
    }
  }

  private static String run(Path dir, String... command) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + ":\n" + out).isZero();
    return out;
  }
}
