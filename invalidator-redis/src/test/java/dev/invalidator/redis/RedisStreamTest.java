package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.EventPublisher.Outgoing;
import dev.invalidator.core.EventSource;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Payload;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.core.Target;
import dev.invalidator.core.TraceContext;
import dev.invalidator.core.WorkerListener;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class RedisStreamTest {
  private static final AggregateRef PRODUCT = new AggregateRef("acme", "product", "42");
  private static final InvalidationWorker.Options OPTIONS =
      InvalidationWorker.Options.builder().block(Duration.ofMillis(50)).build();

  private static StatefulRedisConnection<String, String> redis;

  private final List<RedisStreamSource> sources = new ArrayList<>();
  private KeyScheme keys;
  private RedisStreamPublisher publisher;
  private RedisDeadLetters deadLetters;
  private VersionGatedRedisTarget target;

  @BeforeAll
  static void connect() {
    redis = TestRedis.CLIENT.connect();
  }

  @AfterAll
  static void disconnect() {
    redis.close();
  }

  @BeforeEach
  void setUp() {
    keys = TestRedis.randomKeys();
    publisher = new RedisStreamPublisher(redis, keys, Clock.systemUTC());
    deadLetters = new RedisDeadLetters(redis, keys);
    target = new VersionGatedRedisTarget(redis, keys, Duration.ofMinutes(15));
  }

  @AfterEach
  void tearDown() {
    sources.forEach(RedisStreamSource::close);
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void publisherAndSourceRoundTrip() throws Exception {
    InvalidationEvent traced =
        InvalidationEvent.builder()
            .aggregate(PRODUCT)
            .version(3)
            .eventType("product.renamed")
            .payload(new Payload(List.of("summary"), List.of("catalog"), List.of("cdn-1")))
            .trace(
                TraceContext.of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "a=b"))
            .createdAt(Instant.now().truncatedTo(ChronoUnit.MILLIS))
            .build();
    List<InvalidationEvent> events = List.of(traced, event(PRODUCT, 4), event(PRODUCT, 5));
    RedisStreamSource source = source("reader");
    source.ensureGroup();

    publisher.publish(
        List.of(
            new Outgoing(11, events.get(0)),
            new Outgoing(12, events.get(1)),
            new Outgoing(13, events.get(2))));
    List<Delivery> deliveries = source.poll(10, Duration.ofSeconds(2));

    assertThat(deliveries).hasSize(3);
    assertThat(deliveries.stream().map(d -> StreamEntry.event(d.fields())).toList())
        .isEqualTo(events);
    assertThat(deliveries.get(0).fields())
        .containsEntry(StreamEntry.OUTBOX_ID, "11")
        .containsEntry(StreamEntry.TRACEPARENT, traced.trace().traceparent())
        .containsEntry(
            StreamEntry.COMMITTED_AT_MS, Long.toString(traced.createdAt().toEpochMilli()));
    assertThat(deliveries).allMatch(d -> d.deliveryCount() == 1);
    StreamStats beforeAck = source.stats();
    assertThat(beforeAck.pending()).isEqualTo(3);
    assertThat(beforeAck.pendingPerConsumer()).containsExactly(Map.entry("reader", 3L));
    assertThat(beforeAck.oldestPendingId()).isEqualTo(deliveries.get(0).id());

    source.ack(deliveries.stream().map(Delivery::id).toList());

    StreamStats stats = source.stats();
    assertThat(stats.length()).isEqualTo(3);
    assertThat(stats.pending()).isZero();
    assertThat(stats.lag()).isZero();
    assertThat(stats.lastDeliveredId()).isEqualTo(deliveries.get(2).id());
    assertThat(source.poll(10, Duration.ZERO)).isEmpty();
  }

  @Test
  void ensureGroupToleratesAnExistingGroup() {
    RedisStreamSource source = source("reader");
    source.ensureGroup();
    source.ensureGroup();

    StreamStats stats = source.stats();
    assertThat(stats.groupExists()).isTrue();
    assertThat(stats.length()).isZero();
  }

  @Test
  void statsCountUndeliveredEntriesAsLag() throws Exception {
    RedisStreamSource source = source("reader");
    assertThat(source.stats().groupExists()).isFalse();
    source.ensureGroup();
    List<Outgoing> batch = new ArrayList<>();
    for (int v = 1; v <= 5; v++) {
      batch.add(new Outgoing(v, event(PRODUCT, v)));
    }
    publisher.publish(batch);

    List<Delivery> two = source.poll(2, Duration.ofSeconds(1));

    StreamStats stats = source.stats();
    assertThat(stats.length()).isEqualTo(5);
    assertThat(stats.pending()).isEqualTo(2);
    assertThat(stats.lag()).isEqualTo(3);
    assertThat(stats.consumers()).isEqualTo(1);
    assertThat(stats.lastDeliveredId()).isEqualTo(two.get(1).id());
  }

  @Test
  void workerFailureLeavesEntryPendingAndAnotherConsumerCompletesIt() throws Exception {
    RedisStreamSource a = source("consumer-a");
    RedisStreamSource b = source("consumer-b");
    a.ensureGroup();
    publisher.publish(List.of(new Outgoing(1, event(PRODUCT, 7))));
    Target down =
        new Target() {
          @Override
          public String name() {
            return "redis";
          }

          @Override
          public List<ApplyResult> apply(List<InvalidationEvent> events) {
            throw new InvalidatorException("redis is unreachable", true);
          }
        };
    InvalidationWorker workerA =
        new InvalidationWorker(
            a, List.of(down), deadLetters, OPTIONS, WorkerListener.NONE, Clock.systemUTC());

    assertThat(workerA.runOnce()).isEqualTo(1);

    assertThat(a.stats().pendingPerConsumer()).containsExactly(Map.entry("consumer-a", 1L));
    assertThat(redis.sync().exists(keys.fence(PRODUCT))).isZero();

    List<Delivery> claimed = new CopyOnWriteArrayList<>();
    EventSource recording =
        new EventSource() {
          @Override
          public List<Delivery> poll(int max, Duration block) throws InterruptedException {
            return b.poll(max, block);
          }

          @Override
          public List<Delivery> claimAbandoned(Duration minIdle, int max) {
            List<Delivery> taken = b.claimAbandoned(minIdle, max);
            claimed.addAll(taken);
            return taken;
          }

          @Override
          public void ack(Collection<String> ids) {
            b.ack(ids);
          }
        };
    InvalidationWorker workerB =
        new InvalidationWorker(
            recording,
            List.of(target),
            deadLetters,
            OPTIONS
                .mutate()
                .claimMinIdle(Duration.ofMillis(200))
                .claimInterval(Duration.ofMillis(1))
                .build(),
            WorkerListener.NONE,
            Clock.systemUTC());

    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              workerB.runOnce();
              return !claimed.isEmpty();
            });

    assertThat(claimed).singleElement().extracting(Delivery::deliveryCount).isEqualTo(2L);
    assertThat(b.stats().pending()).isZero();
    assertThat(redis.sync().get(keys.fence(PRODUCT))).isEqualTo("7");
    assertThat(deadLetters.depth()).isZero();
  }

  @Test
  void poisonEntryGoesToDeadLettersOnFirstDelivery() throws Exception {
    String poisonId =
        redis
            .sync()
            .xadd(
                keys.stream(),
                Map.of(
                    StreamEntry.EVENT,
                    "{not json",
                    StreamEntry.PUBLISHED_AT_MS,
                    Long.toString(System.currentTimeMillis())));
    publisher.publish(List.of(new Outgoing(2, event(PRODUCT, 3))));
    RedisStreamSource source = source("reader");
    source.ensureGroup();
    InvalidationWorker worker =
        new InvalidationWorker(
            source, List.of(target), deadLetters, OPTIONS, WorkerListener.NONE, Clock.systemUTC());

    assertThat(worker.runOnce()).isEqualTo(2);

    assertThat(deadLetters.depth()).isEqualTo(1);
    List<StreamMessage<String, String>> dlq =
        redis.sync().xrange(keys.deadLetters(), Range.create("-", "+"));
    assertThat(dlq.get(0).getBody())
        .containsEntry("source_id", poisonId)
        .containsEntry("reason", "poison")
        .containsEntry("target", "*")
        .containsEntry("attempts", "1")
        .containsEntry("orig.event", "{not json")
        .containsKeys("first_failure", "last_failure", "last_error");
    assertThat(source.stats().pending()).isZero();
    assertThat(redis.sync().get(keys.fence(PRODUCT))).isEqualTo("3");
  }

  @Test
  void entryDeletedWhilePendingIsAcknowledgedOnClaim() throws Exception {
    RedisStreamSource a = source("consumer-a");
    RedisStreamSource b = source("consumer-b");
    a.ensureGroup();
    publisher.publish(List.of(new Outgoing(1, event(PRODUCT, 1))));
    String id = a.poll(1, Duration.ofSeconds(1)).get(0).id();
    redis.sync().xdel(keys.stream(), id);

    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              assertThat(b.claimAbandoned(Duration.ofMillis(1), 10)).isEmpty();
              return b.stats().pending() == 0;
            });
  }

  @Test
  void deadLettersNeverStoreCredentials() {
    deadLetters.add(
        new DeadLetter(
            "1-0",
            Map.of(StreamEntry.EVENT, "{}"),
            "redis",
            "retries_exhausted",
            16,
            Instant.now(),
            Instant.now(),
            "cannot connect to redis://app:s3cret@cache:6379/0 (password=hunter2)"));

    Map<String, String> stored =
        redis.sync().xrange(keys.deadLetters(), Range.create("-", "+")).get(0).getBody();
    assertThat(stored.get("last_error"))
        .doesNotContain("s3cret")
        .doesNotContain("hunter2")
        .contains("redis://***@cache:6379/0");
    assertThat(stored).containsEntry("orig.event", "{}").containsEntry("attempts", "16");
  }

  /**
   * A worker blocked on the stream wakes to a whole relay batch. Redis serves a blocked {@code
   * XREADGROUP} right after the command that made the stream ready: with the batch sent as
   * pipelined {@code XADD}s, the first blocked reader got one entry and the second the next one
   * (this test fails against that publisher), and every batch cost further reads, scripts and
   * acknowledgements downstream.
   */
  @Test
  void aReaderBlockedOnTheStreamWakesToTheWholeBatch() throws Exception {
    RedisStreamSource a = source("blocked-a");
    RedisStreamSource b = source("blocked-b");
    a.ensureGroup();
    long blockedBefore = blockedClients();
    List<Integer> firstReads = new CopyOnWriteArrayList<>();
    List<Thread> readers = new ArrayList<>();
    for (RedisStreamSource s : List.of(a, b)) {
      Thread t =
          new Thread(
              () -> {
                try {
                  firstReads.add(s.poll(500, Duration.ofSeconds(3)).size());
                } catch (InterruptedException ex) {
                  Thread.currentThread().interrupt();
                }
              });
      t.start();
      readers.add(t);
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> blockedClients() >= blockedBefore + 2);
    List<Outgoing> batch = new ArrayList<>();
    for (int v = 1; v <= 20; v++) {
      batch.add(new Outgoing(v, event(PRODUCT, v)));
    }

    publisher.publish(batch);
    for (Thread t : readers) {
      t.join(10_000);
    }

    assertThat(firstReads).containsExactlyInAnyOrder(20, 0);
  }

  /** A batch larger than one script's run goes out in several runs, in order, all of it. */
  @Test
  void aLargeBatchIsPublishedWholeAndInOrder() throws Exception {
    RedisStreamSource source = source("reader");
    source.ensureGroup();
    int n = RedisStreamPublisher.ENTRIES_PER_SCRIPT * 2 + 5;
    List<Outgoing> batch = new ArrayList<>();
    for (int v = 1; v <= n; v++) {
      batch.add(new Outgoing(v, event(PRODUCT, v)));
    }

    publisher.publish(batch);

    List<Delivery> deliveries = source.poll(n + 10, Duration.ofSeconds(2));
    assertThat(deliveries).hasSize(n);
    assertThat(deliveries.stream().map(d -> d.fields().get(StreamEntry.OUTBOX_ID)).toList())
        .isEqualTo(
            java.util.stream.IntStream.rangeClosed(1, n).mapToObj(Integer::toString).toList());
  }

  private static long blockedClients() {
    return redis
        .sync()
        .clientList()
        .lines()
        .filter(l -> l.contains(" flags=b ") && l.contains("cmd=xreadgroup"))
        .count();
  }

  private RedisStreamSource source(String consumer) {
    RedisStreamSource s =
        RedisStreamSource.builder(TestRedis.CLIENT, keys).consumer(consumer).build();
    sources.add(s);
    return s;
  }
}
