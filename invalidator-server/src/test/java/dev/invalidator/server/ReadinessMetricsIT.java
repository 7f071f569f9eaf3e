package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.WorkerListener;
import dev.invalidator.embedded.EmbeddedPostgresServer;
import dev.invalidator.embedded.EmbeddedRedisServer;
import dev.invalidator.server.config.ConfigLoader;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code invalidator_ready{component}} and {@code invalidator_readiness_failures_total} follow a
 * Redis of the test's own, stopped and started again on the same port under a running daemon.
 */
class ReadinessMetricsIT {

  @Test
  void redisGoingAwayCountsFailuresAndDropsItsReadinessGaugeUntilItIsBack() throws Exception {
    EmbeddedPostgresServer pg = EmbeddedPostgresServer.start();
    EmbeddedRedisServer redis = EmbeddedRedisServer.start();
    try (Daemon daemon =
        Daemon.create(
            ConfigLoader.load(
                null,
                Map.of(),
                Map.of(
                    "postgres.url", pg.jdbcUrl(),
                    "redis.url", redis.url(),
                    "admin.port", "0",
                    "worker.block", "100ms",
                    "observability.sampleInterval", "200ms")),
            Daemon.Role.ALL,
            WorkerListener.NONE,
            true)) {
      daemon.start(true);
      MeterRegistry registry = daemon.meterRegistry();
      await().atMost(Duration.ofSeconds(10)).until(() -> ready(registry, "redis") == 1);
      assertThat(ready(registry, "postgres")).isEqualTo(1);
      assertThat(failures(registry, "redis", "unreachable")).isZero();

      redis.close();
      await().atMost(Duration.ofSeconds(10)).until(() -> ready(registry, "redis") == 0);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> failures(registry, "redis", "unreachable") >= 2);
      assertThat(ready(registry, "postgres")).isEqualTo(1);
      assertThat(failures(registry, "postgres", "unreachable")).isZero();

      redis = EmbeddedRedisServer.start(redis.port());
      await().atMost(Duration.ofSeconds(15)).until(() -> ready(registry, "redis") == 1);
    } finally {
      redis.close();
      pg.close();
    }
  }

  private static double ready(MeterRegistry registry, String component) {
    return registry.get("invalidator.ready").tag("component", component).gauge().value();
  }

  private static double failures(MeterRegistry registry, String component, String reason) {
    return registry
        .get("invalidator.readiness.failures")
        .tag("component", component)
        .tag("reason", reason)
        .counter()
        .count();
  }
}
