package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.WorkerListener;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import kafka.server.BrokerServer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code /health/ready} of the daemon with {@code transport: kafka} follows the broker and the
 * consumer group. On a broker of the class's own (not the shared one: the test stops it).
 */
class KafkaReadinessIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static KafkaClusterTestKit kafka;

  @BeforeAll
  static void startBroker() {
    // A restarted broker registers again only once the controller expired its previous session
    // (9 s by default).
    kafka =
        TestKafkaBroker.newCluster(
            Map.of("broker.session.timeout.ms", "2000", "broker.heartbeat.interval.ms", "500"));
  }

  @AfterAll
  static void stopBroker() throws Exception {
    kafka.close();
  }

  private static Map<String, String> settings(String topic, Map<String, String> extra) {
    Map<String, String> s = new HashMap<>();
    s.put("transport", "kafka");
    s.put("kafka.bootstrap", kafka.bootstrapServers());
    s.put("kafka.topic", topic);
    s.put("kafka.partitions", "2");
    s.put("worker.threads", "2");
    s.putAll(extra);
    return s;
  }

  /**
   * Ready once both workers of the process joined the group and own the topic's partitions; the
   * broker stopped, the kafka check goes DOWN naming Kafka while PostgreSQL and Redis stay UP; the
   * broker started again (same port), ready again.
   */
  @Test
  void readinessFollowsTheBrokerAndTheGroupAssignment() throws Exception {
    String topic = TestKafkaBroker.newTopic();
    try (TestEnv env = new TestEnv(settings(topic, Map.of()));
        Daemon daemon = Daemon.create(env.cfg, Daemon.Role.ALL, WorkerListener.NONE, false)) {
      URI admin = daemon.start(true);
      JsonNode up = awaitReady(env, admin, 200);
      assertThat(up.at("/checks/kafka/detail").asText())
          .contains("topic " + topic + " with 2 partition(s)")
          .contains("2 member(s), 2 partition(s) assigned");
      assertThat(up.get("checks").fieldNames())
          .toIterable()
          .startsWith("postgres", "redis", "kafka");

      BrokerServer broker = kafka.brokers().values().iterator().next();
      broker.shutdown();
      broker.awaitShutdown();
      JsonNode down = awaitReady(env, admin, 503);
      assertThat(down.at("/checks/kafka/status").asText()).isEqualTo("DOWN");
      assertThat(down.at("/checks/kafka/detail").asText()).contains("Kafka");
      assertThat(down.at("/checks/postgres/status").asText()).isEqualTo("UP");
      assertThat(down.at("/checks/redis/status").asText()).isEqualTo("UP");
      // The same in /metrics: the kafka component's gauge at 0, its failures counted by reason.
      io.micrometer.core.instrument.MeterRegistry registry = daemon.meterRegistry();
      assertThat(registry.get("invalidator.ready").tag("component", "kafka").gauge().value())
          .isZero();
      assertThat(registry.get("invalidator.ready").tag("component", "redis").gauge().value())
          .isEqualTo(1);
      assertThat(
              registry.get("invalidator.readiness.failures").tag("component", "kafka").counters())
          .anySatisfy(c -> assertThat(c.count()).isPositive());

      broker.startup();
      awaitReady(env, admin, 200);
      assertThat(registry.get("invalidator.ready").tag("component", "kafka").gauge().value())
          .isEqualTo(1);
    }
  }

  /** Waits for {@code /health/ready} to answer {@code code}; returns its body. */
  private static JsonNode awaitReady(TestEnv env, URI admin, int code) throws Exception {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              HttpResponse<String> r = env.get(admin, "health/ready");
              assertThat(r.statusCode()).as(r.body()).isEqualTo(code);
            });
    return JSON.readTree(env.get(admin, "health/ready").body());
  }
}
