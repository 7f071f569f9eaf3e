package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.kafka.KafkaDeadLetters;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.testing.ConsoleCapture;
import dev.invalidator.testing.TestServers;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon with {@code transport: kafka}: PostgreSQL outbox, relay to an in-JVM KRaft broker,
 * workers in a consumer group, Redis as the cache; {@code invalidator status} and {@code dlq} on
 * the topic, and the admin server's {@code /api/dlq} on {@code <topic>-dlt}.
 */
@ExtendWith(TestKafkaBroker.Broker.class)
class KafkaDaemonIT {
  private static final String VIEW = "summary";

  @TempDir Path dir;

  private static Map<String, String> kafka(String topic) {
    return Map.of(
        "transport", "kafka",
        "kafka.bootstrap", TestKafkaBroker.bootstrap(),
        "kafka.topic", topic,
        "kafka.partitions", "3",
        "worker.threads", "2");
  }

  /**
   * Cache entries filled at version 1, then writes committed while no daemon runs: the checker
   * counts every entry stale (it can fail). The daemon on Kafka creates the topics, relays the rows
   * and applies them: 0 stale after drain, every fence at the last version, and the gauges read the
   * topic (its length is the events relayed, the group's lag 0).
   */
  @Test
  void daemonOnKafkaAppliesEveryEventAndLeavesNothingStale() throws Exception {
    String topic = TestKafkaBroker.newTopic();
    try (TestEnv env = new TestEnv(kafka(topic))) {
      io.lettuce.core.cluster.api.sync.RedisClusterCommands<String, String> redis =
          env.servers.connection().sync();
      int aggregates = 20;
      int versions = 10;
      Map<String, Long> latest = new TreeMap<>();
      try (CacheClient cache =
          CacheClient.builder().redisClient(env.servers.redis()).keyScheme(env.keys).build()) {
        for (int a = 0; a < aggregates; a++) {
          cache.get(
              "acme",
              "account",
              "k" + a,
              VIEW,
              () -> new CacheClient.Versioned(1, "v1".getBytes(StandardCharsets.UTF_8)));
        }
      }
      for (int a = 0; a < aggregates; a++) {
        String id = "k" + a;
        for (long v = 2; v <= versions; v++) {
          env.commit("acme", id, v);
        }
        latest.put(id, (long) versions);
      }
      assertThat(stale(env, latest)).as("the checker sees the entries of version 1").hasSize(20);

      try (Daemon daemon = Daemon.create(env.cfg, Daemon.Role.ALL, WorkerListener.NONE, false)) {
        URI admin = daemon.start(true);
        await()
            .atMost(Duration.ofSeconds(60))
            .pollInterval(Duration.ofMillis(100))
            .untilAsserted(
                () -> {
                  assertThat(OutboxStats.read(env.servers.dataSource(), env.table).pending())
                      .isZero();
                  for (String id : latest.keySet()) {
                    assertThat(redis.get(env.keys.fence(new AggregateRef("acme", "account", id))))
                        .as("fence of %s", id)
                        .isEqualTo(Long.toString(versions));
                  }
                });
        assertThat(stale(env, latest)).as("stale after drain").isEmpty();
        assertThat(redis.exists(env.keys.stream())).as("no Redis stream on Kafka").isZero();

        MeterRegistry registry = daemon.meterRegistry();
        long events = (long) aggregates * (versions - 1);
        await()
            .atMost(Duration.ofSeconds(30))
            .untilAsserted(
                () -> {
                  JsonNode status =
                      new ObjectMapper().readTree(env.get(admin, "/api/status").body());
                  assertThat(status.get("stream").asText()).isEqualTo(topic);
                  assertThat(status.get("stream_length").asLong()).isEqualTo(events);
                  assertThat(status.get("dlq_depth").asLong()).isZero();
                  assertThat(registry.get("invalidator.stream.lag.entries").gauge().value())
                      .isZero();
                });
      }
    }
  }

  /**
   * {@code invalidator dlq} and {@code status} with {@code --transport kafka --kafka-bootstrap}:
   * dead letters in {@code <topic>-dlt} are listed, a dry run changes nothing, redrive puts the
   * original back on the topic (status then counts it as lag of the group that has not read it),
   * drop marks the rest handled.
   */
  @Test
  void dlqListsRedrivesAndDropsOnTheDeadLetterTopic() throws Exception {
    String topic = TestKafkaBroker.newTopic();
    try (TestEnv env = new TestEnv(kafka(topic))) {
      try (KafkaTransport transport = new KafkaTransport(env.cfg.kafka())) {
        transport.ensureTopics();
      }
      Instant t = Instant.now();
      try (KafkaDeadLetters dlt =
          new KafkaDeadLetters(TestKafkaBroker.bootstrap(), topic, Map.of())) {
        dlt.add(
            new DeadLetter(
                "0-7", entry("acme", "1"), "redis", "retries_exhausted", 16, t, t, "down"));
        dlt.add(
            new DeadLetter(
                "1-9", entry("beta", "2"), "redis", "retries_exhausted", 16, t, t, "down"));
      }
      Path config = dir.resolve("invalidator.yaml");
      Files.writeString(
          config,
          "postgres:\n  url: \""
              + TestServers.postgresUrl()
              + "\"\n  table: "
              + env.table.table()
              + "\nredis:\n  url: "
              + TestServers.redisUrl()
              + "\n  prefix: "
              + env.keys.prefix()
              + "\nkafka:\n  topic: "
              + topic
              + "\n");
      String[] kafka = {
        "-c",
        config.toString(),
        "--transport",
        "kafka",
        "--kafka-bootstrap",
        TestKafkaBroker.bootstrap()
      };

      ConsoleCapture.Result list = cli(kafka, "dlq", "list", "--json");
      assertThat(list.exit()).as(list.err()).isZero();
      JsonNode all = new ObjectMapper().readTree(list.out());
      assertThat(all).hasSize(2);
      assertThat(all.get(0).get("reason").asText()).isEqualTo("retries_exhausted");
      assertThat(all.get(0).get("source_id").asText()).isEqualTo("0-7");
      ConsoleCapture.Result show =
          cli(kafka, "dlq", "show", all.get(1).get("id").asText(), "--json");
      assertThat(show.exit()).as(show.err()).isZero();
      assertThat(new ObjectMapper().readTree(show.out()).get("source_id").asText())
          .isEqualTo("1-9");
      ConsoleCapture.Result bad = cli(kafka, "dlq", "show", "1700000000000-0");
      assertThat(bad.exit()).isEqualTo(1);
      assertThat(bad.err()).contains("<partition>-<offset>");

      assertThat(cli(kafka, "dlq", "redrive", "--tenant", "acme", "--dry-run").out())
          .contains("would redrive 1 dead letter(s) to " + topic);
      assertThat(statusJson(kafka).get("stream_length").asLong()).isZero();
      assertThat(statusJson(kafka).get("dlq_depth").asLong()).isEqualTo(2);

      ConsoleCapture.Result redrive = cli(kafka, "dlq", "redrive", "--tenant", "acme");
      assertThat(redrive.exit()).as(redrive.err()).isZero();
      assertThat(redrive.out()).contains("redrove 1 dead letter(s) to " + topic);
      JsonNode status = statusJson(kafka);
      assertThat(status.get("stream").asText()).isEqualTo(topic);
      assertThat(status.get("stream_length").asLong()).isEqualTo(1);
      assertThat(status.get("stream_lag_entries").asLong()).isEqualTo(1);
      assertThat(status.get("dlq_depth").asLong()).isEqualTo(1);
      JsonNode left = new ObjectMapper().readTree(cli(kafka, "dlq", "list", "--json").out());
      assertThat(left).hasSize(1);
      assertThat(left.get(0).get("tenant").asText()).isEqualTo("beta");

      assertThat(cli(kafka, "dlq", "drop").out()).contains("dropped 1 dead letter(s)");
      assertThat(new ObjectMapper().readTree(cli(kafka, "dlq", "list", "--json").out())).isEmpty();
      assertThat(statusJson(kafka).get("dlq_depth").asLong()).isZero();
    }
  }

  /**
   * Two poison records on the topic, dead-lettered by the daemon's workers: {@code /api/dlq} lists
   * both from {@code <topic>-dlt} in the Redis shape with their origin; drop and redrive need the
   * token, take a {@code <partition>-<offset>} id, and leave the list without them (the redriven
   * poison record is dead-lettered again: nothing is lost). Without the dead-letter topic, {@code
   * /api/dlq} answers 500 naming it.
   */
  @Test
  void poisonRecordsAreListedOnApiDlqAndCanBeDroppedOrRedriven() throws Exception {
    String topic = TestKafkaBroker.newTopic();
    Map<String, String> settings = new java.util.HashMap<>(kafka(topic));
    settings.put("admin.token", "s3cret-token");
    try (TestEnv env = new TestEnv(settings);
        Daemon daemon = Daemon.create(env.cfg, Daemon.Role.ALL, WorkerListener.NONE, false)) {
      URI admin = daemon.start(true);
      try (KafkaProducer<String, byte[]> raw =
          new KafkaProducer<>(
              Map.of("bootstrap.servers", TestKafkaBroker.bootstrap()),
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
      assertThat(
              new ObjectMapper()
                  .readTree(env.get(admin, "api/dlq?count=1").body())
                  .get("dead_letters"))
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
      assertThat(new ObjectMapper().readTree(redriven.body()).get("stream_id").asText())
          .matches(java.util.regex.Pattern.quote(topic) + "/[0-2]-[0-9]+");
      JsonNode again = awaitDeadLetters(env, admin, 1).get(0);
      assertThat(again.get("id").asText()).isNotIn(first, second);
      assertThat(again.at("/fields/orig.event").asText()).isEqualTo("{poison 2");
      assertThat(again.at("/fields/orig.redriven_from").asText())
          .isEqualTo(topic + "-dlt/" + second);

      try (org.apache.kafka.clients.admin.Admin a =
          org.apache.kafka.clients.admin.Admin.create(
              Map.of("bootstrap.servers", TestKafkaBroker.bootstrap()))) {
        a.deleteTopics(List.of(topic + "-dlt")).all().get();
      }
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                HttpResponse<String> r = env.get(admin, "api/dlq");
                assertThat(r.statusCode()).as(r.body()).isEqualTo(500);
                assertThat(r.body()).contains(topic + "-dlt");
              });
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
              assertThat(new ObjectMapper().readTree(r.body()).get("dead_letters")).hasSize(count);
            });
    return new ObjectMapper().readTree(env.get(admin, "api/dlq").body()).get("dead_letters");
  }

  private static byte[] utf8(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  private static JsonNode statusJson(String[] kafka) throws Exception {
    ConsoleCapture.Result r = cli(kafka, "status", "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    return new ObjectMapper().readTree(r.out());
  }

  private static ConsoleCapture.Result cli(String[] common, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of(common));
    return ConsoleCapture.run(Main::execute, all.toArray(String[]::new));
  }

  private static Map<String, String> entry(String tenant, String id) {
    InvalidationEvent e =
        InvalidationEvent.builder().tenant(tenant).aggregate("account", id).version(5).build();
    return StreamEntry.fields(1, e, Instant.now(), Instant.now());
  }

  /** Entries older than the newest committed version of their aggregate. */
  private static List<String> stale(TestEnv env, Map<String, Long> latest) {
    List<String> out = new ArrayList<>();
    latest.forEach(
        (id, v) -> {
          String key = env.keys.entry(new AggregateRef("acme", "account", id), VIEW);
          String ver = env.servers.connection().sync().hget(key, "ver");
          if (ver != null && Long.parseLong(ver) < v) {
            out.add(key + " holds " + ver + " < " + v);
          }
        });
    return out;
  }
}
