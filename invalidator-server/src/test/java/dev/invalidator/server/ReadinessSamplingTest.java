package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.server.observe.AdminServer;
import dev.invalidator.server.observe.InvalidatorMetrics;
import dev.invalidator.server.observe.MetricsSampler;
import dev.invalidator.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import org.junit.jupiter.api.Test;

/**
 * A readiness check sampled by {@link MetricsSampler#readiness}: it answers from the probe's last
 * result, not before the first, and fails once the probe hangs for longer than twice the interval
 * plus 10 s (by the sampler's clock). The probe here runs the steps the test hands it, so each
 * sample happens when the test says.
 */
class ReadinessSamplingTest {
  @Test
  void checkAnswersFromTheLastSampleAndFailsWhenTheProbeHangs() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    BlockingQueue<Callable<String>> steps = new LinkedBlockingQueue<>();
    try (TestEnv env = new TestEnv(Map.of());
        InvalidatorMetrics metrics = new InvalidatorMetrics(List.of("redis"), List.of(), clock);
        RedisStreamSource stats =
            RedisStreamSource.builder(env.servers.redis(), env.keys).consumer("stats").build();
        MetricsSampler sampler =
            new MetricsSampler(
                metrics,
                env.servers.dataSource(),
                env.table,
                stats::stats,
                new RedisDeadLetters(env.servers.connection(), env.keys),
                env.servers.connection(),
                env.keys.stream(),
                env.cfg.worker().group(),
                clock)) {
      AdminServer.Check check = sampler.readiness("probe", () -> steps.take().call());
      assertThatThrownBy(() -> check.probe().call()).hasMessageContaining("not sampled yet");

      sampler.start(Duration.ofMillis(100));
      steps.add(() -> "fine");
      await().atMost(Duration.ofSeconds(5)).until(() -> "fine".equals(answer(check)));

      steps.add(
          () -> {
            throw new IllegalStateException("Kafka at broker:9092 is not reachable");
          });
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> "Kafka at broker:9092 is not reachable".equals(answer(check)));

      // The probe now waits for a step that does not come: the last result ages.
      clock.advance(Duration.ofSeconds(10));
      assertThat(answer(check)).isEqualTo("Kafka at broker:9092 is not reachable");
      clock.advance(Duration.ofSeconds(1));
      assertThat(answer(check)).isEqualTo("probe: last sampled 11 s ago (the probe hangs)");

      steps.add(() -> "fine again");
      await().atMost(Duration.ofSeconds(5)).until(() -> "fine again".equals(answer(check)));
    }
  }

  /** The check's description when it passes, else its failure's message. */
  private static String answer(AdminServer.Check check) {
    try {
      return check.probe().call();
    } catch (Exception ex) {
      return ex.getMessage();
    }
  }
}
