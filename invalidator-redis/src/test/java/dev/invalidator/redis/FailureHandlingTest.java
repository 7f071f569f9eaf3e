package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.Backoff;
import dev.invalidator.core.BusyException;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.EventPublisher.Outgoing;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.core.Target;
import dev.invalidator.core.TargetBreakers;
import dev.invalidator.core.TargetException;
import dev.invalidator.core.WorkerListener;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Retries with backoff, circuit breakers and dead-letter reasons, against a real Redis. */
class FailureHandlingTest {
  private static final Backoff FAST_RETRY =
      new Backoff(Duration.ofMillis(20), Duration.ofMillis(200));
  private static final InvalidationWorker.Options OPTIONS =
      InvalidationWorker.Options.builder()
          .block(Duration.ofMillis(20))
          .retry(FAST_RETRY, Duration.ofMillis(10))
          .breakerOpenWait(Duration.ofMillis(300))
          .build();

  private static StatefulRedisConnection<String, String> redis;

  private final List<RedisStreamSource> sources = new ArrayList<>();
  private final List<Thread> threads = new ArrayList<>();
  private final List<InvalidationWorker> workers = new ArrayList<>();
  private KeyScheme keys;
  private RedisStreamPublisher publisher;
  private RedisDeadLetters deadLetters;

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
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    workers.forEach(InvalidationWorker::stop);
    for (Thread t : threads) {
      t.join(5_000);
    }
    sources.forEach(RedisStreamSource::close);
    TestRedis.deleteAll(redis, keys);
  }

  private RedisStreamSource source(String name) {
    RedisStreamSource s = RedisStreamSource.builder(TestRedis.CLIENT, keys).consumer(name).build();
    s.ensureGroup();
    sources.add(s);
    return s;
  }

  private InvalidationWorker start(
      Target target, InvalidationWorker.Options options, WorkerListener listener) {
    InvalidationWorker w =
        new InvalidationWorker(
            source("c" + workers.size()),
            List.of(target),
            deadLetters,
            new RedisFailureHistory(redis, keys),
            new TargetBreakers(options.breakerOpenWait(), listener),
            options,
            listener,
            Clock.systemUTC());
    workers.add(w);
    Thread t = new Thread(w, "test-worker-" + workers.size());
    threads.add(t);
    t.start();
    return w;
  }

  private List<InvalidationEvent> publish(int n) {
    List<InvalidationEvent> events = new ArrayList<>();
    List<Outgoing> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      InvalidationEvent e = event(new AggregateRef("acme", "product", "p" + i), 1);
      events.add(e);
      out.add(new Outgoing(i + 1, e));
    }
    publisher.publish(out);
    return events;
  }

  private long pending() {
    return redis.sync().xpending(keys.stream(), RedisStreamSource.DEFAULT_GROUP).getCount();
  }

  /** Fails each event's first {@code failures} applies, then applies it. */
  private static final class FlakyTarget implements Target {
    final Map<java.util.UUID, AtomicInteger> attempts = new ConcurrentHashMap<>();
    final int failures;

    FlakyTarget(int failures) {
      this.failures = failures;
    }

    @Override
    public String name() {
      return "flaky";
    }

    @Override
    public List<ApplyResult> apply(List<InvalidationEvent> events) {
      List<ApplyResult> out = new ArrayList<>();
      for (InvalidationEvent e : events) {
        int n = attempts.computeIfAbsent(e.eventId(), k -> new AtomicInteger()).incrementAndGet();
        out.add(
            n <= failures
                ? ApplyResult.failed(new InvalidatorException("attempt " + n + " failed", true))
                : ApplyResult.APPLIED);
      }
      return out;
    }
  }

  @Test
  void failedEntryIsRetriedAfterItsBackoffWithTheDeliveryCountKeptByRedis() {
    FlakyTarget target = new FlakyTarget(2);
    List<Delivery> retried = new CopyOnWriteArrayList<>();
    start(
        target,
        OPTIONS,
        new WorkerListener() {
          @Override
          public void retried(Delivery d) {
            retried.add(d);
          }
        });
    List<InvalidationEvent> events = publish(5);

    await().atMost(Duration.ofSeconds(20)).until(() -> pending() == 0);

    for (InvalidationEvent e : events) {
      assertThat(target.attempts.get(e.eventId())).hasValue(3);
    }
    assertThat(retried).hasSize(10);
    // Redis's own count: the third delivery of every entry is number 3.
    assertThat(retried.stream().mapToLong(Delivery::deliveryCount).max()).hasValue(3);
    assertThat(deadLetters.depth()).isZero();
  }

  @Test
  void retryWaitsForTheBackoffOfTheDeliveryCount() throws Exception {
    // A backoff far longer than the test: a failed entry must not come back within it.
    InvalidationWorker.Options slow =
        OPTIONS
            .mutate()
            .retry(
                new Backoff(Duration.ofMinutes(10), Duration.ofMinutes(10)), Duration.ofMillis(10))
            .build();
    FlakyTarget target = new FlakyTarget(1);
    InvalidationWorker w = start(target, slow, WorkerListener.NONE);
    List<InvalidationEvent> events = publish(20);
    await().atMost(Duration.ofSeconds(10)).until(() -> target.attempts.size() == 20);
    Instant seen = w.lastLoop();
    await().atMost(Duration.ofSeconds(5)).until(() -> w.lastLoop().isAfter(seen.plusMillis(300)));
    // Full jitter puts some delays near zero: those may be retried; most must still wait.
    long retriedCount =
        events.stream().filter(e -> target.attempts.get(e.eventId()).get() > 1).count();
    assertThat(retriedCount).isLessThan(5);
    assertThat(pending()).isEqualTo(20 - retriedCount);
  }

  @Test
  void entryThatFailsEveryDeliveryIsDeadLetteredWithItsHistoryAfterMaxDeliveries() {
    FlakyTarget target = new FlakyTarget(Integer.MAX_VALUE);
    start(target, OPTIONS.mutate().maxDeliveries(4).build(), WorkerListener.NONE);
    Instant before = Instant.now();
    InvalidationEvent e = publish(1).get(0);

    await().atMost(Duration.ofSeconds(20)).until(() -> deadLetters.depth() == 1);
    await().atMost(Duration.ofSeconds(5)).until(() -> pending() == 0);

    RedisDeadLetters.Stored dl =
        deadLetters.list(RedisDeadLetters.Filter.ALL, Instant.now(), 10).get(0);
    assertThat(dl.reason()).isEqualTo("retries_exhausted");
    assertThat(dl.target()).isEqualTo("flaky");
    assertThat(dl.attempts()).isEqualTo(4);
    assertThat(target.attempts.get(e.eventId())).hasValue(4);
    assertThat(dl.tenant()).isEqualTo("acme");
    assertThat(dl.lastError()).contains("attempt 4 failed");
    assertThat(dl.firstFailure()).isAfterOrEqualTo(before.minusMillis(5));
    assertThat(dl.firstFailure()).isBefore(dl.lastFailure());
    assertThat(StreamEntry.event(dl.original()).eventId()).isEqualTo(e.eventId());
    // The failure record is gone once the entry is dead-lettered.
    assertThat(redis.sync().exists(keys.failure(dl.sourceId()))).isZero();
  }

  /**
   * A permanent refusal (a CDN's 4xx) cannot be cured by a retry: the event is kept at once as
   * {@code rejected}, after one attempt, not after {@code maxDeliveries} of them. Negative control:
   * the same target failing retryably is tried again (the test above dead-letters it only on the
   * 4th delivery).
   */
  @Test
  void permanentRefusalIsDeadLetteredAtOnceAsRejected() {
    AtomicInteger calls = new AtomicInteger();
    Target refusing =
        new Target() {
          @Override
          public String name() {
            return "cdn";
          }

          @Override
          public List<ApplyResult> apply(List<InvalidationEvent> events) {
            calls.incrementAndGet();
            return events.stream()
                .map(
                    e ->
                        ApplyResult.failed(
                            new TargetException(
                                "cdn",
                                e.eventId().toString(),
                                e.tenantId(),
                                "HTTP 403: bad tag",
                                false,
                                null)))
                .toList();
          }
        };
    start(refusing, OPTIONS.mutate().maxDeliveries(16).build(), WorkerListener.NONE);
    publish(1);

    await().atMost(Duration.ofSeconds(10)).until(() -> deadLetters.depth() == 1);
    await().atMost(Duration.ofSeconds(5)).until(() -> pending() == 0);
    RedisDeadLetters.Stored dl =
        deadLetters.list(RedisDeadLetters.Filter.ALL, Instant.now(), 10).get(0);
    assertThat(dl.reason()).isEqualTo("rejected");
    assertThat(dl.target()).isEqualTo("cdn");
    assertThat(dl.attempts()).isEqualTo(1);
    assertThat(dl.lastError()).contains("HTTP 403");
    assertThat(calls).hasValue(1);
  }

  /**
   * Waiting for another worker's tag walk is not a failure: an event refused with {@link
   * BusyException} stays pending past {@code maxDeliveries} and is applied once the holder is done.
   * Negative control: the same refusals as a plain retryable error dead-letter it as {@code
   * retries_exhausted} on the 2nd delivery.
   */
  @Test
  void busyEventOutlivesMaxDeliveriesAndIsAppliedOnceFree() {
    assertThat(refusedThreeTimes(new BusyException("tag set busy"))).isEqualTo("applied");
  }

  @Test
  void negativeControlRetryableRefusalsAreDeadLetteredAtMaxDeliveries() {
    assertThat(refusedThreeTimes(new InvalidatorException("tag set busy", true)))
        .isEqualTo("retries_exhausted");
  }

  private String refusedThreeTimes(RuntimeException refusal) {
    AtomicInteger calls = new AtomicInteger();
    Target target =
        new Target() {
          @Override
          public String name() {
            return "tags";
          }

          @Override
          public List<ApplyResult> apply(List<InvalidationEvent> events) {
            boolean refuse = calls.incrementAndGet() <= 3;
            return events.stream()
                .map(e -> refuse ? ApplyResult.failed(refusal) : ApplyResult.APPLIED)
                .toList();
          }
        };
    start(target, OPTIONS.mutate().maxDeliveries(2).build(), WorkerListener.NONE);
    publish(1);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> pending() == 0 && (calls.get() > 3 || deadLetters.depth() > 0));
    if (deadLetters.depth() > 0) {
      return deadLetters.list(RedisDeadLetters.Filter.ALL, Instant.now(), 10).get(0).reason();
    }
    return "applied";
  }

  @Test
  void openBreakerStopsWorkAndKeepsEntriesPendingWithoutDeadLetteringThem() {
    AtomicBoolean down = new AtomicBoolean(true);
    AtomicInteger calls = new AtomicInteger();
    List<String> transitions = new CopyOnWriteArrayList<>();
    Target target =
        new Target() {
          @Override
          public String name() {
            return "cache";
          }

          @Override
          public List<ApplyResult> apply(List<InvalidationEvent> events) {
            calls.incrementAndGet();
            if (down.get()) {
              throw new InvalidatorException("connection refused", true);
            }
            return events.stream().map(x -> ApplyResult.APPLIED).toList();
          }
        };
    InvalidationWorker w =
        start(
            target,
            OPTIONS.mutate().maxDeliveries(2).build(),
            new WorkerListener() {
              @Override
              public void circuitStateChanged(String t, String from, String to) {
                transitions.add(t + ":" + from + "->" + to);
              }
            });
    publish(50);

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> "OPEN".equals(w.breakers().states().get("cache")));
    int callsWhenOpen = calls.get();
    Instant t0 = w.lastLoop();
    await().atMost(Duration.ofSeconds(5)).until(() -> w.lastLoop().isAfter(t0.plusMillis(1_000)));
    // During a second of outage with a 300 ms open wait: a handful of probes, not a hammering.
    assertThat(calls.get() - callsWhenOpen).isBetween(1, 6);
    assertThat(deadLetters.depth()).isZero();
    assertThat(pending()).isPositive();

    down.set(false);
    await().atMost(Duration.ofSeconds(20)).until(() -> pending() == 0);
    assertThat(deadLetters.depth()).isZero();
    assertThat(redis.sync().xlen(keys.stream())).isEqualTo(50);
    assertThat(transitions)
        .contains("cache:CLOSED->OPEN", "cache:OPEN->HALF_OPEN", "cache:HALF_OPEN->CLOSED");
  }

  @Test
  void badInputBecomesDeadLettersWithActionableReasonsWhileHealthyEntriesFlow() {
    FlakyTarget target = new FlakyTarget(0);
    start(target, OPTIONS.mutate().eventTypes(Set.of("changed")).build(), WorkerListener.NONE);
    String good =
        "{\"event_id\":\"%s\",\"tenant_id\":\"acme\",\"aggregate_type\":\"product\","
            + "\"aggregate_id\":\"1\",\"aggregate_version\":3,\"event_type\":\"%s\",\"payload\":%s}";
    Map<String, String> cases = new java.util.LinkedHashMap<>();
    cases.put("poison", "{not json");
    cases.put("oversized", "{\"x\":\"" + "a".repeat(70_000) + "\"}");
    cases.put(
        "unknown_event_type",
        good.formatted(java.util.UUID.randomUUID(), "deleted_everything", "{}"));
    cases.put(
        "tenant_violation",
        good.formatted(java.util.UUID.randomUUID(), "changed", "{\"views\":[\"x}:v:y\"]}"));
    cases.put(
        "invalid",
        "{\"event_id\":\""
            + java.util.UUID.randomUUID()
            + "\",\"tenant_id\":\""
            + "t".repeat(65)
            + "\",\"aggregate_type\":\"p\",\"aggregate_id\":\"1\",\"aggregate_version\":1,"
            + "\"event_type\":\"changed\"}");
    for (String json : cases.values()) {
      redis.sync().xadd(keys.stream(), Map.of(StreamEntry.EVENT, json));
    }
    redis.sync().xadd(keys.stream(), Map.of("no_event_field", "1"));
    String healthy = good.formatted(java.util.UUID.randomUUID(), "changed", "{}");
    redis.sync().xadd(keys.stream(), Map.of(StreamEntry.EVENT, healthy));

    await().atMost(Duration.ofSeconds(10)).until(() -> deadLetters.depth() == 6 && pending() == 0);
    List<RedisDeadLetters.Stored> all =
        deadLetters.list(RedisDeadLetters.Filter.ALL, Instant.now(), 100);
    assertThat(all)
        .extracting(RedisDeadLetters.Stored::reason)
        .containsExactly(
            "poison", "oversized", "unknown_event_type", "tenant_violation", "invalid", "poison");
    assertThat(all.get(2).lastError()).contains("deleted_everything").contains("worker.eventTypes");
    assertThat(all.get(3).lastError()).contains("payload.views[0]");
    assertThat(all.get(4).lastError()).contains("tenant_id").contains("limit is 64");
    assertThat(all.get(5).lastError()).contains("event: is missing");
    assertThat(target.attempts).hasSize(1);
  }
}
