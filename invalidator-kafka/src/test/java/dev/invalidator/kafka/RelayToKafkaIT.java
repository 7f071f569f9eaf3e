package dev.invalidator.kafka;

import static dev.invalidator.kafka.TestKafka.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.outbox.PollingRelay;
import dev.invalidator.testing.TestServers;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The real relay (PostgreSQL outbox, {@link PollingRelay}) publishing through Kafka. */
@ExtendWith(TestKafka.Broker.class)
class RelayToKafkaIT {
  private HikariDataSource ds;
  private OutboxTable table;

  @BeforeEach
  void setUp() {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(TestServers.postgresUrl());
    config.setMaximumPoolSize(4);
    config.setPoolName("kafka-relay-tests");
    ds = new HikariDataSource(config);
    table =
        OutboxTable.of(
            "public", "outbox_k" + UUID.randomUUID().toString().replace("-", "").substring(0, 10));
    OutboxSchema.migrate(ds, table);
  }

  @AfterEach
  void tearDown() throws Exception {
    // Names made above of [a-z0-9_] only: plain double quotes are enough.
    String schema = "\"" + table.schema() + "\".";
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table.qualified() + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + schema + "\"" + table.historyTable() + "\"");
      s.execute("DROP FUNCTION IF EXISTS " + schema + "\"" + table.table() + "_wakeup\" CASCADE");
    }
    ds.close();
  }

  @Test
  void relayMarksRowsOnlyAfterKafkaAcknowledgedThem() throws Exception {
    String topic = TestKafka.newTopic(2);
    List<InvalidationEvent> events =
        IntStream.rangeClosed(1, 5).mapToObj(v -> event("r" + v, v)).toList();
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      OutboxWriter.create(table).appendAll(c, events);
      c.commit();
    }

    // A broker that does not take the records (no such topic): the batch rolls back, mark
    // included.
    try (KafkaEventPublisher refused =
        KafkaEventPublisher.builder(TestKafka.bootstrap(), "missing-" + TestKafka.newGroup())
            .producerProperty("max.block.ms", 1_000)
            .ackTimeout(Duration.ofSeconds(2))
            .build()) {
      PollingRelay relay = PollingRelay.builder(ds, table, refused).build();
      assertThatThrownBy(relay::relayOnce).isInstanceOf(InvalidatorException.class);
    }
    assertThat(unrelayed()).isEqualTo(5);

    try (KafkaEventPublisher publisher =
        KafkaEventPublisher.builder(TestKafka.bootstrap(), topic).build()) {
      PollingRelay relay = PollingRelay.builder(ds, table, publisher).build();
      assertThat(relay.drain()).isEqualTo(5);
    }
    assertThat(unrelayed()).isZero();
    List<ConsumerRecord<String, byte[]>> records = read(topic, 2, 5);
    List<InvalidationEvent> onTopic =
        records.stream()
            .map(r -> StreamEntry.event(KafkaRecords.decode(r.value(), r.headers())))
            .toList();
    assertThat(onTopic)
        .extracting(InvalidationEvent::eventId)
        .containsExactlyInAnyOrderElementsOf(
            events.stream().map(InvalidationEvent::eventId).toList());
    assertThat(onTopic)
        .extracting(e -> e.aggregate().id() + "@" + e.aggregateVersion())
        .containsExactlyInAnyOrder("r1@1", "r2@2", "r3@3", "r4@4", "r5@5");
    assertThat(records)
        .allSatisfy(
            r ->
                assertThat(KafkaRecords.decode(r.value(), null))
                    .containsKeys(StreamEntry.OUTBOX_ID, StreamEntry.COMMITTED_AT_MS));
  }

  private long unrelayed() throws Exception {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT count(*) FROM " + table.qualified() + " WHERE relayed_at IS NULL")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static List<ConsumerRecord<String, byte[]>> read(String topic, int partitions, int n) {
    try (KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(
            Map.of("bootstrap.servers", TestKafka.bootstrap()),
            new StringDeserializer(),
            new ByteArrayDeserializer())) {
      List<TopicPartition> tps =
          IntStream.range(0, partitions).mapToObj(p -> new TopicPartition(topic, p)).toList();
      c.assign(tps);
      c.seekToBeginning(tps);
      List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (out.size() < n && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
      return out;
    }
  }
}
