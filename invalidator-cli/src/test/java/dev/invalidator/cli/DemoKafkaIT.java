package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.testing.ConsoleCapture;
import dev.invalidator.testing.TestServers;
import org.junit.jupiter.api.Test;

/**
 * {@code invalidator demo --transport kafka} without {@code --kafka-bootstrap}: the demo starts its
 * own in-JVM KRaft broker from the distribution's class path, runs the workload through it and ends
 * with {@code stale after drain: 0}.
 */
class DemoKafkaIT {
  @Test
  void demoOnAnInJvmKafkaBrokerEndsWithNothingStale() {
    ConsoleCapture.Result r =
        ConsoleCapture.run(
            Main::execute,
            "demo",
            "--transport",
            "kafka",
            "--postgres-url",
            TestServers.postgresUrl(),
            "--redis-url",
            TestServers.redisUrl(),
            "--duration",
            "5s",
            "--tenants",
            "2",
            "--accounts",
            "20");
    assertThat(r.out()).contains("starting an in-JVM Kafka broker");
    assertThat(r.out()).contains("stale after drain: 0");
    assertThat(r.exit()).as(r.out() + r.err()).isZero();
  }
}
