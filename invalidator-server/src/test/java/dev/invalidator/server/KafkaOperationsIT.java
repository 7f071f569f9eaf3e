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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import kafka.server.BrokerServer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The daemon's admin HTTP server with {@code transport: kafka}: {@code /health/ready} follows the
 * broker and the consumer group, {@code /api/dlq} reads {@code <topic>-dlt}. One broker of the
 * class's own (not the shared one: a test stops it).
 */
class KafkaOperationsIT {
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
   * broker stopped, the kafka check goes DOWN naming Kafka while PostgreSQL and Redis stay UP, and
   * {@code /api/dlq} answers 500 naming the dead-letter topic; the broker started again (same
   * port), ready again.
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
      // Asked meanwhile (the admin server's other thread answers the probes), /api/dlq gives up
      // after its timeout with a 500 naming the dead-letter topic.
      CompletableFuture<HttpResponse<String>> dlq =
          CompletableFuture.supplyAsync(() -> env.get(admin, "api/dlq"));
      JsonNode down = awaitReady(env, admin, 503);
      assertThat(down.at("/checks/kafka/status").asText()).isEqualTo("DOWN");
      assertThat(down.at("/checks/kafka/detail").asText()).contains("Kafka");
      assertThat(down.at("/checks/postgres/status").asText()).isEqualTo("UP");
      assertThat(down.at("/checks/redis/status").asText()).isEqualTo("UP");
      HttpResponse<String> dlqDown = dlq.get(30, TimeUnit.SECONDS);
      assertThat(dlqDown.statusCode()).as(dlqDown.body()).isEqualTo(500);
      assertThat(dlqDown.body()).contains(topic + "-dlt");

      broker.startup();
      awaitReady(env, admin, 200);
    }
  }

  /**
   * Two poison records on the topic, dead-lettered by the daemon's workers: {@code /api/dlq} lists
   * both from {@code <topic>-dlt} in the Redis shape with their origin; drop and redrive need the
   * token, take a {@code <partition>-<offset>} id, and leave the list without them (the redriven
   * poison record is dead-lettered again: nothing is lost).
   */
  @Test
  void poisonRecordsAreListedOnApiDlqAndCanBeDroppedOrRedriven() throws Exception {
    String topic = TestKafkaBroker.newTopic();
    try (TestEnv env = new TestEnv(settings(topic, Map.of("admin.token", "s3cret-token")));
        Daemon daemon = Daemon.create(env.cfg, Daemon.Role.ALL, WorkerListener.NONE, false)) {
      URI admin = daemon.start(true);
      try (KafkaProducer<String, byte[]> raw =
          new KafkaProducer<>(
              Map.of("bootstrap.servers", kafka.bootstrapServers()),
              new StringSerializer(),
              new ByteArraySerializer())) {
        raw.send(new ProducerRecord<>(topic, 0, "x", utf8("{poison"))).get();
        raw.send(new ProducerRecord<>(topic, 1, "y", utf8("{poison 2"))).get();
      }
      JsonNode list = awaitDeadLetters(env, admin, 2);
      String first = null;
      String second = null;
      for (JsonNode d : list) {
        assertThat(d.get("id").asText()).matches("0-[0-9]+");
        JsonNode f = d.get("fields");
        assertThat(f.get("reason").asText()).isEqualTo("poison");
        assertThat(f.get("target").asText()).isEqualTo("*");
        assertThat(f.get("last_error").asText()).contains("JSON");
        assertThat(f.get("original_topic").asText()).isEqualTo(topic);
        assertThat(f.get("original_offset").asText()).isEqualTo("0");
        if (f.get("orig.event").asText().equals("{poison 2")) {
          assertThat(f.get("original_partition").asText()).isEqualTo("1");
          second = d.get("id").asText();
        } else {
          assertThat(f.get("orig.event").asText()).isEqualTo("{poison");
          assertThat(f.get("original_partition").asText()).isEqualTo("0");
          first = d.get("id").asText();
        }
      }
      assertThat(first).isNotNull();
      assertThat(second).isNotNull();
      assertThat(env.get(admin, "api/dlq?count=1").body()).contains("\"id\"");
      assertThat(JSON.readTree(env.get(admin, "api/dlq?count=1").body()).get("dead_letters"))
          .hasSize(1);

      assertThat(env.post(admin, "api/dlq/" + first + "/drop", "wrong").statusCode())
          .isEqualTo(401);
      HttpResponse<String> bad = env.post(admin, "api/dlq/1700000000000-0x/drop", "s3cret-token");
      assertThat(bad.statusCode()).isEqualTo(400);
      assertThat(bad.body()).contains("<partition>-<offset>");
      HttpResponse<String> dropped = env.post(admin, "api/dlq/" + first + "/drop", "s3cret-token");
      assertThat(dropped.statusCode()).as(dropped.body()).isEqualTo(200);
      assertThat(env.post(admin, "api/dlq/" + first + "/drop", "s3cret-token").statusCode())
          .isEqualTo(404);

      HttpResponse<String> redriven =
          env.post(admin, "api/dlq/" + second + "/redrive", "s3cret-token");
      assertThat(redriven.statusCode()).as(redriven.body()).isEqualTo(200);
      assertThat(JSON.readTree(redriven.body()).get("stream_id").asText())
          .startsWith(topic + "/1-");
      JsonNode again = awaitDeadLetters(env, admin, 1).get(0);
      assertThat(again.get("id").asText()).isNotIn(first, second);
      assertThat(again.at("/fields/orig.event").asText()).isEqualTo("{poison 2");
      assertThat(again.at("/fields/orig.redriven_from").asText())
          .isEqualTo(topic + "-dlt/" + second);
    }
  }

  private static JsonNode awaitDeadLetters(TestEnv env, URI admin, int count) throws Exception {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () -> {
              HttpResponse<String> r = env.get(admin, "api/dlq");
              assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
              assertThat(JSON.readTree(r.body()).get("dead_letters")).hasSize(count);
            });
    return JSON.readTree(env.get(admin, "api/dlq").body()).get("dead_letters");
  }

  private static byte[] utf8(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
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
