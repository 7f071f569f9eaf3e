package dev.invalidator.kafka;

import static dev.invalidator.kafka.TestKafka.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.EventPublisher.Outgoing;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.core.TraceContext;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The publisher and the source on a real (in-JVM) broker, without a worker. */
@ExtendWith(TestKafka.Broker.class)
class KafkaTransportIT {
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private <T extends AutoCloseable> T closing(T c) {
    closeables.add(c);
    return c;
  }

  @Test
  void publishedRecordIsKeyedByAggregateAndCarriesTheEntryFieldsAndTraceHeaders() throws Exception {
    String topic = TestKafka.newTopic(3);
    KafkaEventPublisher publisher =
        closing(KafkaEventPublisher.builder(TestKafka.bootstrap(), topic).build());
    String traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    InvalidationEvent traced =
        InvalidationEvent.builder()
            .aggregate(new AggregateRef("acme", "product", "42"))
            .version(3)
            .trace(TraceContext.of(traceparent, "a=b"))
            .createdAt(Instant.now().truncatedTo(ChronoUnit.MILLIS))
            .build();
    List<InvalidationEvent> events = List.of(traced, event("42", 4), event("42", 5));

    publisher.publish(
        List.of(
            new Outgoing(11, events.get(0)),
            new Outgoing(12, events.get(1)),
            new Outgoing(13, events.get(2))));

    List<ConsumerRecord<String, byte[]>> records = readAll(topic, 3, 3);
    assertThat(records).extracting(ConsumerRecord::key).containsOnly("acme:product:42");
    assertThat(records)
        .extracting(ConsumerRecord::partition)
        .containsOnly(records.get(0).partition());
    ConsumerRecord<String, byte[]> first = records.get(0);
    Map<String, String> fields = KafkaRecords.decode(first.value(), null);
    assertThat(fields)
        .containsEntry(StreamEntry.OUTBOX_ID, "11")
        .containsEntry(StreamEntry.TRACEPARENT, traceparent)
        .containsEntry(
            StreamEntry.COMMITTED_AT_MS, Long.toString(traced.createdAt().toEpochMilli()))
        .containsKey(StreamEntry.PUBLISHED_AT_MS);
    assertThat(StreamEntry.event(fields)).isEqualTo(traced);
    assertThat(
            new String(first.headers().lastHeader("traceparent").value(), StandardCharsets.UTF_8))
        .isEqualTo(traceparent);

    KafkaEventSource source =
        closing(
            KafkaEventSource.builder(TestKafka.bootstrap(), topic)
                .group(TestKafka.newGroup())
                .build());
    List<Delivery> deliveries = pollAtLeast(source, 3);
    assertThat(deliveries.stream().map(d -> StreamEntry.event(d.fields())).toList())
        .isEqualTo(events);
    assertThat(deliveries)
        .extracting(Delivery::id)
        .containsExactly(
            KafkaEventSource.id(first.partition(), 0),
            KafkaEventSource.id(first.partition(), 1),
            KafkaEventSource.id(first.partition(), 2));
    assertThat(deliveries).allMatch(d -> d.deliveryCount() == 1);
  }

  @Test
  void publishFailsRetryablyWhenTheBrokerDoesNotAcknowledge() throws Exception {
    // Auto-creation is off on the test broker: a topic that does not exist takes no records.
    KafkaEventPublisher publisher =
        closing(
            KafkaEventPublisher.builder(TestKafka.bootstrap(), "missing-" + TestKafka.newGroup())
                .producerProperty("max.block.ms", 1_000)
                .ackTimeout(Duration.ofSeconds(2))
                .build());

    assertThatThrownBy(() -> publisher.publish(List.of(new Outgoing(1, event("1", 1)))))
        .isInstanceOfSatisfying(
            InvalidatorException.class, ex -> assertThat(ex.isRetryable()).isTrue());
  }

  @Test
  void sourceHandsOutNothingTwiceAndAcksCommitTheContiguousPrefix() throws Exception {
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    KafkaEventPublisher publisher =
        closing(KafkaEventPublisher.builder(TestKafka.bootstrap(), topic).build());
    publisher.publish(
        IntStream.rangeClosed(1, 6).mapToObj(v -> new Outgoing(v, event("7", v))).toList());
    assertThat(KafkaGroupLag.read(TestKafka.admin(), group, topic, Duration.ofSeconds(10)).total())
        .as("a group that committed nothing lags by the whole log")
        .isEqualTo(6);
    KafkaEventSource source =
        closing(KafkaEventSource.builder(TestKafka.bootstrap(), topic).group(group).build());

    List<Delivery> all = pollAtLeast(source, 6);
    assertThat(all).hasSize(6);
    assertThat(source.poll(10, Duration.ofMillis(200))).isEmpty();

    // Offsets 0, 1, 3, 4 acknowledged; 2 and 5 not: the commit stops at 2.
    source.ack(List.of(all.get(0).id(), all.get(1).id(), all.get(3).id(), all.get(4).id()));
    assertThat(TestKafka.committed(group, topic)).containsEntry(0, 2L);

    source.ack(List.of(all.get(2).id()));
    assertThat(TestKafka.committed(group, topic)).containsEntry(0, 5L);

    source.ack(List.of(all.get(5).id()));
    assertThat(TestKafka.committed(group, topic)).containsEntry(0, 6L);
  }

  @Test
  void committingTheConsumersPositionIsCaughtByTheSameCheck() throws Exception {
    // Negative control for the commit check above: a consumer that commits its position (what
    // auto-commit or a plain commitSync() does) commits past records nobody acknowledged, and the
    // Admin check sees it.
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    KafkaEventPublisher publisher =
        closing(KafkaEventPublisher.builder(TestKafka.bootstrap(), topic).build());
    publisher.publish(
        IntStream.rangeClosed(1, 6).mapToObj(v -> new Outgoing(v, event("7", v))).toList());
    try (KafkaConsumer<String, byte[]> naive =
        new KafkaConsumer<>(
            Map.of(
                "bootstrap.servers",
                TestKafka.bootstrap(),
                "group.id",
                group,
                "enable.auto.commit",
                "false",
                "auto.offset.reset",
                "earliest"),
            new StringDeserializer(),
            new ByteArrayDeserializer())) {
      naive.subscribe(List.of(topic));
      int seen = 0;
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (seen < 6 && System.nanoTime() < deadline) {
        seen += naive.poll(Duration.ofMillis(200)).count();
      }
      naive.commitSync(); // "acknowledges" offsets 0..5 although only 0 and 1 were applied
    }

    assertThat(TestKafka.committed(group, topic)).doesNotContainEntry(0, 2L).containsEntry(0, 6L);
  }

  @Test
  void deadLettersAreListedRedrivenAndDroppedAndStayHandled() throws Exception {
    String topic = TestKafka.newTopic(1);
    String dlqGroup = TestKafka.newGroup();
    KafkaDeadLetters dlt = closing(new KafkaDeadLetters(TestKafka.bootstrap(), topic, Map.of()));
    List<InvalidationEvent> events = List.of(event("a", 1), event("b", 1), event("c", 1));
    Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
    for (int i = 0; i < 3; i++) {
      dlt.add(
          new dev.invalidator.core.DeadLetter(
              KafkaEventSource.id(0, 5 + i),
              StreamEntry.fields(i + 1, events.get(i), null, now),
              "recording",
              "retries_exhausted",
              16,
              now,
              now,
              "refused"));
    }
    KafkaDeadLetterAdmin dlq = new KafkaDeadLetterAdmin(TestKafka.bootstrap(), topic, dlqGroup);

    List<KafkaDeadLetterAdmin.Stored> all = dlq.list(10);
    assertThat(all).hasSize(3);
    assertThat(all.get(0).originalTopic()).isEqualTo(topic);
    assertThat(all)
        .extracting(KafkaDeadLetterAdmin.Stored::originalOffset)
        .containsExactly(5L, 6L, 7L);
    assertThat(all.get(0).reason()).isEqualTo("retries_exhausted");
    assertThat(all.get(0).attempts()).isEqualTo(16);
    assertThat(all.get(0).lastFailure()).isEqualTo(now);
    assertThat(all.get(0).tenant()).isEqualTo("acme");
    assertThat(all.get(0).key()).isEqualTo("acme:product:a");
    assertThat(StreamEntry.event(all.get(1).original())).isEqualTo(events.get(1));
    assertThat(dlq.depth()).isEqualTo(3);

    // Out of order: the middle one dropped first.
    dlq.drop(List.of(all.get(1)));
    assertThat(dlq.list(10))
        .extracting(KafkaDeadLetterAdmin.Stored::id)
        .containsExactly("0-0", "0-2");
    assertThat(dlq.depth()).isEqualTo(2);

    assertThat(dlq.redrive(List.of(all.get(0)))).isEqualTo(1);
    List<ConsumerRecord<String, byte[]>> redriven = readAll(topic, 1, 1);
    assertThat(redriven).hasSize(1);
    assertThat(redriven.get(0).key()).isEqualTo("acme:product:a");
    Map<String, String> fields = KafkaRecords.decode(redriven.get(0).value(), null);
    assertThat(StreamEntry.event(fields)).isEqualTo(events.get(0));
    assertThat(fields).containsEntry("redriven_from", topic + "-dlt/0-0");
    assertThat(dlq.list(10)).extracting(KafkaDeadLetterAdmin.Stored::id).containsExactly("0-2");
    // The mark moved over both handled records.
    assertThat(TestKafka.committed(dlqGroup, topic + "-dlt")).containsEntry(0, 2L);

    dlq.drop(dlq.list(10));
    assertThat(dlq.list(10)).isEmpty();
    assertThat(dlq.depth()).isZero();
    assertThat(TestKafka.committed(dlqGroup, topic + "-dlt")).containsEntry(0, 3L);
  }

  private static List<Delivery> pollAtLeast(KafkaEventSource source, int n) throws Exception {
    List<Delivery> out = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (out.size() < n && System.nanoTime() < deadline) {
      out.addAll(source.poll(n - out.size(), Duration.ofMillis(200)));
    }
    return out;
  }

  private static List<ConsumerRecord<String, byte[]>> readAll(String topic, int partitions, int n) {
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
