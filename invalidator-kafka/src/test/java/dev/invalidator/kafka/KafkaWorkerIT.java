package dev.invalidator.kafka;

import static dev.invalidator.kafka.TestKafka.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.DeadLetters;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.EventPublisher.Outgoing;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.core.WorkerListener;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The guarantees through a real {@link InvalidationWorker} over {@link KafkaEventSource} on an
 * in-JVM broker: at-least-once apply, the commit rule, per-aggregate order, a member that stops
 * mid-batch, a rebalance while applying, crash-safe attempt counts and dead letters.
 */
@ExtendWith(TestKafka.Broker.class)
class KafkaWorkerIT {
  private static final InvalidationWorker.Options OPTIONS =
      InvalidationWorker.Options.builder()
          .block(Duration.ofMillis(100))
          .retry(new Backoff(Duration.ofMillis(20), Duration.ofMillis(200)), Duration.ofMillis(10))
          .breakerOpenWait(Duration.ofMillis(300))
          .maxDeliveries(1_000)
          .build();

  private final List<InvalidationWorker> workers = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    stopWorkers();
    for (AutoCloseable c : closeables) {
      c.close();
    }
  }

  private void stopWorkers() throws InterruptedException {
    workers.forEach(InvalidationWorker::stop);
    for (Thread t : threads) {
      t.join(10_000);
      assertThat(t.isAlive()).as("worker thread %s stopped", t.getName()).isFalse();
    }
    workers.clear();
    threads.clear();
  }

  private <T extends AutoCloseable> T closing(T c) {
    closeables.add(c);
    return c;
  }

  private KafkaEventSource source(String topic, String group) {
    return closing(
        KafkaEventSource.builder(TestKafka.bootstrap(), topic)
            .group(group)
            .consumerProperty("heartbeat.interval.ms", 200)
            .build());
  }

  private InvalidationWorker start(
      KafkaEventSource source,
      RecordingTarget target,
      DeadLetters deadLetters,
      InvalidationWorker.Options options,
      WorkerListener listener) {
    InvalidationWorker w =
        new InvalidationWorker(
            source, List.of(target), deadLetters, options, listener, Clock.systemUTC());
    workers.add(w);
    Thread t = new Thread(w, "kafka-worker-" + workers.size());
    threads.add(t);
    t.start();
    return w;
  }

  private static final DeadLetters NO_DEAD_LETTERS =
      dl -> {
        throw new AssertionError("unexpected dead letter: " + dl);
      };

  private List<InvalidationEvent> publish(String topic, int aggregates, int versions) {
    KafkaEventPublisher publisher =
        closing(KafkaEventPublisher.builder(TestKafka.bootstrap(), topic).build());
    List<InvalidationEvent> all = new ArrayList<>();
    long outboxId = 1;
    for (int v = 1; v <= versions; v++) {
      List<Outgoing> batch = new ArrayList<>();
      for (int a = 0; a < aggregates; a++) {
        InvalidationEvent e = event("p" + a, v);
        all.add(e);
        batch.add(new Outgoing(outboxId++, e));
      }
      publisher.publish(batch);
    }
    return all;
  }

  private static Set<UUID> ids(List<InvalidationEvent> events) {
    return events.stream().map(InvalidationEvent::eventId).collect(Collectors.toSet());
  }

  private static void awaitCommittedToTheEnd(String group, String topic, int partitions) {
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(TestKafka.committed(group, topic))
                    .isEqualTo(TestKafka.endOffsets(topic, partitions)));
  }

  @Test
  void everyPublishedEventIsAppliedAndTheGroupCommitsToTheEnd() throws Exception {
    String topic = TestKafka.newTopic(3);
    String group = TestKafka.newGroup();
    List<InvalidationEvent> events = publish(topic, 50, 4);
    RecordingTarget target = new RecordingTarget();

    start(source(topic, group), target, NO_DEAD_LETTERS, OPTIONS, WorkerListener.NONE);

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> target.appliedIds().containsAll(ids(events)));
    awaitCommittedToTheEnd(group, topic, 3);
    assertThat(KafkaGroupLag.read(TestKafka.admin(), group, topic, Duration.ofSeconds(10)).total())
        .isZero();
    assertThat(TestKafka.endOffsets(topic, 3).values().stream().mapToLong(Long::longValue).sum())
        .isEqualTo(200);
  }

  @Test
  void oneAggregatesEventsStayInOnePartitionAndArriveInVersionOrder() throws Exception {
    String topic = TestKafka.newTopic(4);
    String group = TestKafka.newGroup();
    List<InvalidationEvent> events = publish(topic, 12, 15);
    RecordingTarget target = new RecordingTarget();
    Map<String, Set<Integer>> partitionsOf = new ConcurrentHashMap<>();
    WorkerListener byPartition =
        new WorkerListener() {
          @Override
          public void consumed(Delivery d, long lagMillis) {
            InvalidationEvent e = StreamEntry.event(d.fields());
            int partition = Integer.parseInt(d.id().substring(0, d.id().indexOf('-')));
            partitionsOf
                .computeIfAbsent(e.aggregate().id(), k -> ConcurrentHashMap.newKeySet())
                .add(partition);
          }
        };

    start(source(topic, group), target, NO_DEAD_LETTERS, OPTIONS, byPartition);

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> target.appliedIds().containsAll(ids(events)));
    assertThat(partitionsOf).hasSize(12).allSatisfy((agg, parts) -> assertThat(parts).hasSize(1));
    Map<String, List<Long>> versions = new HashMap<>();
    for (InvalidationEvent e : target.applied) {
      versions
          .computeIfAbsent(e.aggregate().id(), k -> new ArrayList<>())
          .add(e.aggregateVersion());
    }
    List<Long> expected = new ArrayList<>();
    for (long v = 1; v <= 15; v++) {
      expected.add(v);
    }
    // No failures and one member: each event is applied once, in publish order per aggregate.
    assertThat(versions).hasSize(12).allSatisfy((agg, vs) -> assertThat(vs).isEqualTo(expected));
  }

  @Test
  void memberStoppedMidBatchLeavesItsUnacknowledgedRecordsToTheNextMember() throws Exception {
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    List<InvalidationEvent> events = publish(topic, 1, 10);
    KafkaEventSource first = source(topic, group);
    List<Delivery> batch = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (batch.size() < 10 && System.nanoTime() < deadline) {
      batch.addAll(first.poll(10 - batch.size(), Duration.ofMillis(200)));
    }
    assertThat(batch).hasSize(10);

    // Three applied and acknowledged, then the member goes away mid-batch: the consumer is
    // closed with seven records handed out and never acknowledged.
    first.ack(batch.subList(0, 3).stream().map(Delivery::id).toList());
    first.close();
    assertThat(TestKafka.committed(group, topic)).containsExactly(Map.entry(0, 3L));

    RecordingTarget target = new RecordingTarget();
    start(source(topic, group), target, NO_DEAD_LETTERS, OPTIONS, WorkerListener.NONE);

    Set<UUID> unacknowledged = ids(events.subList(3, 10));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> target.appliedIds().containsAll(unacknowledged));
    awaitCommittedToTheEnd(group, topic, 1);
    // The next member starts at the commit point: nothing before it comes back.
    assertThat(target.appliedIds()).doesNotContainAnyElementsOf(ids(events.subList(0, 3)));
  }

  @Test
  void hungMemberIsExpelledAndItsLateAcksCommitNothing() throws Exception {
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    List<InvalidationEvent> events = publish(topic, 1, 10);
    // A member that stops calling poll (a stuck apply, a GC pause, a frozen process) is expelled
    // after max.poll.interval.ms; its partitions go to the live members.
    KafkaEventSource hung =
        closing(
            KafkaEventSource.builder(TestKafka.bootstrap(), topic)
                .group(group)
                .consumerProperty("heartbeat.interval.ms", 200)
                .consumerProperty("max.poll.interval.ms", 1_500)
                .build());
    List<Delivery> batch = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (batch.size() < 10 && System.nanoTime() < deadline) {
      batch.addAll(hung.poll(10 - batch.size(), Duration.ofMillis(200)));
    }
    assertThat(batch).hasSize(10);
    hung.ack(batch.subList(0, 2).stream().map(Delivery::id).toList());
    assertThat(TestKafka.committed(group, topic)).containsExactly(Map.entry(0, 2L));

    RecordingTarget target = new RecordingTarget();
    start(source(topic, group), target, NO_DEAD_LETTERS, OPTIONS, WorkerListener.NONE);

    Set<UUID> unacknowledged = ids(events.subList(2, 10));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> target.appliedIds().containsAll(unacknowledged));
    awaitCommittedToTheEnd(group, topic, 1);

    // The expelled member wakes up and acknowledges what it held: its commit is refused (its
    // generation is gone), nothing is thrown at the worker, and the group's offset stays where
    // the live member put it.
    hung.ack(batch.subList(2, 10).stream().map(Delivery::id).toList());
    assertThat(TestKafka.committed(group, topic)).containsExactly(Map.entry(0, 10L));
    // Its next poll finds the partitions lost (or handed back at the commit point): nothing of
    // the old batch comes out again.
    assertThat(hung.poll(10, Duration.ofMillis(500))).isEmpty();
    assertThat(TestKafka.committed(group, topic)).containsExactly(Map.entry(0, 10L));
  }

  @Test
  void commitNeverPassesARecordATargetHasNotApplied() throws Exception {
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    List<InvalidationEvent> events = publish(topic, 1, 10);
    InvalidationEvent stuck = events.get(3); // offset 3
    RecordingTarget target = new RecordingTarget();
    target.failing = e -> e.eventId().equals(stuck.eventId());
    List<Long> stuckDeliveries = new CopyOnWriteArrayList<>();
    WorkerListener listener =
        new WorkerListener() {
          @Override
          public void failed(String t, Delivery d, RuntimeException error) {
            stuckDeliveries.add(d.deliveryCount());
          }
        };

    start(source(topic, group), target, NO_DEAD_LETTERS, OPTIONS, listener);

    Set<UUID> others = ids(events);
    others.remove(stuck.eventId());
    await().atMost(Duration.ofSeconds(30)).until(() -> target.appliedIds().containsAll(others));
    await().atMost(Duration.ofSeconds(30)).until(() -> stuckDeliveries.size() >= 4);
    // Records 4..9 are applied and acknowledged, record 3 is not: the group's commit stays at 3,
    // with the record's delivery count in the metadata.
    assertThat(TestKafka.committed(group, topic)).containsExactly(Map.entry(0, 3L));
    assertThat(TestKafka.committedMetadata(group, topic, 0)).startsWith("a1:3=");
    KafkaGroupLag lag = KafkaGroupLag.read(TestKafka.admin(), group, topic, Duration.ofSeconds(10));
    assertThat(lag.lag()).containsExactly(Map.entry(0, 7L));
    assertThat(target.appliedIds()).doesNotContain(stuck.eventId());

    target.failing = e -> false;

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> target.appliedIds().contains(stuck.eventId()));
    awaitCommittedToTheEnd(group, topic, 1);
    assertThat(TestKafka.committedMetadata(group, topic, 0)).isEmpty();
  }

  @Test
  void retriedRecordKeepsItsAttemptCountAcrossAConsumerRestartAndIsDeadLetteredAtTheLimit()
      throws Exception {
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    List<InvalidationEvent> events = publish(topic, 1, 3);
    InvalidationEvent stuck = events.get(1);
    List<Long> firstMember = new CopyOnWriteArrayList<>();
    RecordingTarget target = new RecordingTarget();
    target.failing = e -> e.eventId().equals(stuck.eventId());
    start(source(topic, group), target, NO_DEAD_LETTERS, OPTIONS, failures(firstMember));
    await().atMost(Duration.ofSeconds(30)).until(() -> firstMember.size() >= 3);
    stopWorkers(); // the loop finishes its iteration; the source is closed in tearDown...
    closeables.remove(closeables.size() - 1).close(); // ...or here, before the next member joins
    long lastCount = firstMember.get(firstMember.size() - 1);
    assertThat(lastCount).isGreaterThanOrEqualTo(3);

    // The next member of the group, with a limit just past what the first one reached.
    KafkaDeadLetters dlt = closing(new KafkaDeadLetters(TestKafka.bootstrap(), topic, Map.of()));
    List<Long> secondMember = new CopyOnWriteArrayList<>();
    InvalidationWorker.Options limited =
        OPTIONS.mutate().maxDeliveries((int) lastCount + 2).build();
    start(source(topic, group), target, dlt, limited, failures(secondMember));

    await().atMost(Duration.ofSeconds(30)).until(() -> secondMember.size() >= 2);
    // Counted on from the first member's count, not from 1.
    assertThat(secondMember.subList(0, 2)).containsExactly(lastCount + 1, lastCount + 2);
    List<ConsumerRecord<String, byte[]>> dead = readDeadLetters(topic, 1);
    assertThat(dead).hasSize(1);
    assertThat(header(dead.get(0), KafkaDeadLetters.REASON)).isEqualTo("retries_exhausted");
    assertThat(header(dead.get(0), KafkaDeadLetters.ATTEMPTS))
        .isEqualTo(Long.toString(lastCount + 2));
    assertThat(
            KafkaDeadLetters.longHeader(
                dead.get(0).headers().lastHeader(KafkaDeadLetters.ORIGINAL_OFFSET).value()))
        .isEqualTo(1L);
    assertThat(StreamEntry.event(KafkaRecords.decode(dead.get(0).value(), null))).isEqualTo(stuck);
    awaitCommittedToTheEnd(group, topic, 1);
  }

  @Test
  void poisonRecordIsDeadLetteredWithItsOriginAndTheCommitMovesPastIt() throws Exception {
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    try (KafkaProducer<String, byte[]> raw =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", TestKafka.bootstrap()),
            new StringSerializer(),
            new ByteArraySerializer())) {
      raw.send(new ProducerRecord<>(topic, "x", "{not json".getBytes(StandardCharsets.UTF_8)))
          .get();
    }
    List<InvalidationEvent> events = publish(topic, 1, 1);
    RecordingTarget target = new RecordingTarget();
    KafkaDeadLetters dlt = closing(new KafkaDeadLetters(TestKafka.bootstrap(), topic, Map.of()));

    start(source(topic, group), target, dlt, OPTIONS, WorkerListener.NONE);

    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> target.appliedIds().containsAll(ids(events)));
    awaitCommittedToTheEnd(group, topic, 1);
    List<ConsumerRecord<String, byte[]>> dead = readDeadLetters(topic, 1);
    assertThat(dead).hasSize(1);
    ConsumerRecord<String, byte[]> d = dead.get(0);
    assertThat(header(d, KafkaDeadLetters.ORIGINAL_TOPIC)).isEqualTo(topic);
    assertThat(
            KafkaDeadLetters.intHeader(
                d.headers().lastHeader(KafkaDeadLetters.ORIGINAL_PARTITION).value()))
        .isZero();
    assertThat(
            KafkaDeadLetters.longHeader(
                d.headers().lastHeader(KafkaDeadLetters.ORIGINAL_OFFSET).value()))
        .isZero();
    assertThat(header(d, KafkaDeadLetters.REASON)).isEqualTo("poison");
    assertThat(header(d, KafkaDeadLetters.TARGET)).isEqualTo("*");
    assertThat(header(d, KafkaDeadLetters.ATTEMPTS)).isEqualTo("1");
    assertThat(header(d, KafkaDeadLetters.EXCEPTION_MESSAGE)).contains("not valid JSON");
    assertThat(KafkaRecords.decode(d.value(), null)).containsEntry(StreamEntry.EVENT, "{not json");
  }

  @Test
  void rebalanceWhileApplyingLosesNoRecord() throws Exception {
    String topic = TestKafka.newTopic(4);
    String group = TestKafka.newGroup();
    List<InvalidationEvent> before = publish(topic, 40, 2);
    RecordingTarget first = new RecordingTarget().holdFirstApply();
    // Some records fail on the first member until the rebalance is over: they are unapplied
    // when its partitions are revoked.
    Set<String> failingAggregates = Set.of("p0", "p1", "p2", "p3", "p4");
    first.failing = e -> failingAggregates.contains(e.aggregate().id());
    start(source(topic, group), first, NO_DEAD_LETTERS, OPTIONS, WorkerListener.NONE);
    assertThat(first.entered.await(30, TimeUnit.SECONDS)).isTrue();

    // The first member is inside an apply; a second member joins, and the group waits for the
    // first to come back to poll before it can hand out partitions.
    RecordingTarget second = new RecordingTarget();
    start(source(topic, group), second, NO_DEAD_LETTERS, OPTIONS, WorkerListener.NONE);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> group(group).groupState() == GroupState.PREPARING_REBALANCE);
    first.release();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              var g = group(group);
              return g.groupState() == GroupState.STABLE
                  && g.members().size() == 2
                  && g.members().stream()
                      .noneMatch(m -> m.assignment().topicPartitions().isEmpty());
            });
    first.failing = e -> false;
    List<InvalidationEvent> after = publish(topic, 40, 1);

    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              Set<UUID> applied = first.appliedIds();
              applied.addAll(second.appliedIds());
              return applied.containsAll(ids(before)) && applied.containsAll(ids(after));
            });
    awaitCommittedToTheEnd(group, topic, 4);
    assertThat(second.applied).as("the second member got partitions").isNotEmpty();
  }

  private static org.apache.kafka.clients.admin.ConsumerGroupDescription group(String group)
      throws Exception {
    return TestKafka.admin().describeConsumerGroups(List.of(group)).all().get().get(group);
  }

  @Test
  void processSpansAreChildrenOfTheContextTheRecordCarriesInItsValueOrOnlyInItsHeaders()
      throws Exception {
    String topic = TestKafka.newTopic(1);
    String group = TestKafka.newGroup();
    String inValue = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    String inHeaderOnly = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    InvalidationEvent traced =
        InvalidationEvent.builder()
            .aggregate(new dev.invalidator.core.AggregateRef("acme", "product", "1"))
            .version(1)
            .trace(dev.invalidator.core.TraceContext.of(inValue, null))
            .build();
    closing(KafkaEventPublisher.builder(TestKafka.bootstrap(), topic).build())
        .publish(List.of(new Outgoing(1, traced)));
    // Another producer's record: no trace fields in the value, the context only in a header.
    InvalidationEvent plain = event("2", 1);
    try (KafkaProducer<String, byte[]> raw =
        new KafkaProducer<>(
            Map.of("bootstrap.servers", TestKafka.bootstrap()),
            new StringSerializer(),
            new ByteArraySerializer())) {
      ProducerRecord<String, byte[]> r =
          new ProducerRecord<>(
              topic,
              KafkaRecords.key(plain),
              KafkaRecords.encode(StreamEntry.fields(2, plain, null, java.time.Instant.now())));
      r.headers().add("traceparent", inHeaderOnly.getBytes(StandardCharsets.UTF_8));
      raw.send(r).get();
    }
    var exporter = io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter.create();
    try (var sdk =
        io.opentelemetry.sdk.OpenTelemetrySdk.builder()
            .setTracerProvider(
                io.opentelemetry.sdk.trace.SdkTracerProvider.builder()
                    .addSpanProcessor(
                        io.opentelemetry.sdk.trace.export.SimpleSpanProcessor.create(exporter))
                    .build())
            .build()) {
      RecordingTarget target = new RecordingTarget();
      InvalidationWorker w =
          new InvalidationWorker(
              source(topic, group),
              List.of(target),
              NO_DEAD_LETTERS,
              OPTIONS,
              WorkerListener.NONE,
              Clock.systemUTC(),
              dev.invalidator.core.MessagingSpans.create(sdk, "kafka"));
      workers.add(w);
      Thread t = new Thread(w, "kafka-worker-traced");
      threads.add(t);
      t.start();

      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> exporter.getFinishedSpanItems().size() >= 2);
      stopWorkers();
      var spans = exporter.getFinishedSpanItems();
      assertThat(spans).extracting(s -> s.getName()).containsOnly("process " + topic);
      Map<String, String> parentOf = new HashMap<>();
      spans.forEach(
          s ->
              parentOf.put(
                  s.getAttributes().get(dev.invalidator.core.MessagingSpans.MESSAGE_ID),
                  s.getTraceId() + "/" + s.getParentSpanId()));
      assertThat(parentOf)
          .containsEntry("0-0", "0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331")
          .containsEntry("0-1", "4bf92f3577b34da6a3ce929d0e0e4736/00f067aa0ba902b7");
      assertThat(spans)
          .allSatisfy(
              s ->
                  assertThat(
                          s.getAttributes()
                              .get(dev.invalidator.core.MessagingSpans.MESSAGING_SYSTEM))
                      .isEqualTo("kafka"));
    }
  }

  private static WorkerListener failures(List<Long> counts) {
    return new WorkerListener() {
      @Override
      public void failed(String target, Delivery d, RuntimeException error) {
        counts.add(d.deliveryCount());
      }
    };
  }

  private static String header(ConsumerRecord<String, byte[]> r, String name) {
    var h = r.headers().lastHeader(name);
    return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  private static List<ConsumerRecord<String, byte[]>> readDeadLetters(String topic, int n) {
    try (KafkaConsumer<String, byte[]> c =
        new KafkaConsumer<>(
            Map.of("bootstrap.servers", TestKafka.bootstrap()),
            new StringDeserializer(),
            new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(topic + KafkaDeadLetters.SUFFIX, 0);
      c.assign(List.of(tp));
      c.seekToBeginning(List.of(tp));
      List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (out.size() < n && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
      // Anything beyond n would be a second dead letter of the same record: read a moment more.
      c.poll(Duration.ofMillis(300)).forEach(out::add);
      return out;
    }
  }
}
