package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Target;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class IdempotencyAndTrimmingTest {
  private static StatefulRedisConnection<String, String> redis;
  private KeyScheme keys;

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
  }

  @AfterEach
  void tearDown() {
    TestRedis.deleteAll(redis, keys);
  }

  /** A projection that is not idempotent: it counts every apply and appends to a list. */
  private Target counter() {
    return new Target() {
      @Override
      public String name() {
        return "counter";
      }

      @Override
      public List<ApplyResult> apply(List<InvalidationEvent> events) {
        for (InvalidationEvent e : events) {
          redis.sync().incr(keys.prefix() + ":count:" + e.aggregate().id());
          redis.sync().rpush(keys.prefix() + ":log", e.eventId().toString());
        }
        return events.stream().map(x -> ApplyResult.APPLIED).toList();
      }
    };
  }

  @Test
  void idempotentTargetAppliesEachEventOnceAndAnswersDuplicates() {
    IdempotentTarget target = new IdempotentTarget(counter(), redis, keys, Duration.ofMinutes(5));
    InvalidationEvent a = event(new AggregateRef("acme", "order", "1"), 1);
    InvalidationEvent b = event(new AggregateRef("acme", "order", "1"), 2);

    assertThat(target.apply(List.of(a))).containsExactly(ApplyResult.APPLIED);
    assertThat(target.apply(List.of(a, b, a)))
        .extracting(ApplyResult::status)
        .containsExactly(
            ApplyResult.Status.DUPLICATE, ApplyResult.Status.APPLIED, ApplyResult.Status.DUPLICATE);
    // The batch's own repeat (a twice) is caught too because records are read before the apply.
    assertThat(redis.sync().get(keys.prefix() + ":count:1")).isEqualTo("2");
    assertThat(redis.sync().lrange(keys.prefix() + ":log", 0, -1))
        .containsExactly(a.eventId().toString(), b.eventId().toString());
    assertThat(redis.sync().pttl(keys.processed("counter", a.eventId()))).isBetween(1L, 300_000L);
  }

  @Test
  void twoCopiesOfAnEventInOneBatchAreAppliedOnce() {
    // A republished entry read in the same batch as its original: neither has a record yet.
    IdempotentTarget target = new IdempotentTarget(counter(), redis, keys, Duration.ofMinutes(5));
    InvalidationEvent a = event(new AggregateRef("acme", "order", "1"), 1);
    InvalidationEvent b = event(new AggregateRef("acme", "order", "2"), 1);

    assertThat(target.apply(List.of(a, b, a)))
        .containsExactly(ApplyResult.APPLIED, ApplyResult.APPLIED, ApplyResult.DUPLICATE);
    assertThat(redis.sync().get(keys.prefix() + ":count:1")).isEqualTo("1");
    assertThat(redis.sync().lrange(keys.prefix() + ":log", 0, -1))
        .containsExactly(a.eventId().toString(), b.eventId().toString());
  }

  @Test
  void aSecondCopyInTheBatchSharesTheFirstCopysFailure() {
    RuntimeException boom = new IllegalStateException("down");
    Target failing =
        new Target() {
          @Override
          public String name() {
            return "failing";
          }

          @Override
          public List<ApplyResult> apply(List<InvalidationEvent> events) {
            return events.stream().map(x -> ApplyResult.failed(boom)).toList();
          }
        };
    IdempotentTarget target = new IdempotentTarget(failing, redis, keys, Duration.ofMinutes(5));
    InvalidationEvent a = event(new AggregateRef("acme", "order", "1"), 1);

    assertThat(target.apply(List.of(a, a)))
        .containsExactly(ApplyResult.failed(boom), ApplyResult.failed(boom));
    assertThat(redis.sync().exists(keys.processed("failing", a.eventId()))).isZero();
  }

  @Test
  void withoutTheDecoratorTheSameDuplicatesAreCountedTwice() {
    // Negative control: the counter really is not idempotent.
    Target plain = counter();
    InvalidationEvent a = event(new AggregateRef("acme", "order", "1"), 1);
    plain.apply(List.of(a));
    plain.apply(List.of(a));
    assertThat(redis.sync().get(keys.prefix() + ":count:1")).isEqualTo("2");
  }

  @Test
  @SuppressWarnings("unchecked") // Lettuce's generic varargs of stream offsets
  void trimmingNeverRemovesEntriesAGroupHasNotAcknowledgedOrRead() {
    String stream = keys.stream();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      ids.add(redis.sync().xadd(stream, Map.of("n", Integer.toString(i))));
    }
    StreamTrimmer trimmer = new StreamTrimmer(redis, stream);
    assertThat(trimmer.trim()).as("no group yet: nothing may go").isZero();

    // Group a has read 6 entries and acknowledged all but entry 2; group b has read 8, acked 8.
    redis.sync().xgroupCreate(XReadArgs.StreamOffset.from(stream, "0"), "a");
    redis.sync().xgroupCreate(XReadArgs.StreamOffset.from(stream, "0"), "b");
    List<StreamMessage<String, String>> readA =
        redis
            .sync()
            .xreadgroup(
                io.lettuce.core.Consumer.from("a", "c"),
                XReadArgs.Builder.count(6),
                XReadArgs.StreamOffset.lastConsumed(stream));
    List<StreamMessage<String, String>> readB =
        redis
            .sync()
            .xreadgroup(
                io.lettuce.core.Consumer.from("b", "c"),
                XReadArgs.Builder.count(8),
                XReadArgs.StreamOffset.lastConsumed(stream));
    readA.stream()
        .filter(m -> !m.getId().equals(ids.get(2)))
        .forEach(m -> redis.sync().xack(stream, "a", m.getId()));
    readB.forEach(m -> redis.sync().xack(stream, "b", m.getId()));

    assertThat(trimmer.safeMinId()).isEqualTo(ids.get(2));
    assertThat(trimmer.trim()).isEqualTo(2);
    assertThat(redis.sync().xrange(stream, io.lettuce.core.Range.create("-", "+")))
        .extracting(StreamMessage::getId)
        .containsExactlyElementsOf(ids.subList(2, 10));

    // Once entry 2 is acknowledged, group a still has not read entries 6..9.
    redis.sync().xack(stream, "a", ids.get(2));
    assertThat(trimmer.trim()).isEqualTo(4);
    assertThat(redis.sync().xlen(stream)).isEqualTo(4);
    assertThat(redis.sync().xrange(stream, io.lettuce.core.Range.create("-", "+")).get(0).getId())
        .isEqualTo(ids.get(6));

    // Everything read and acknowledged everywhere: all may go, and a new entry is still kept.
    redis
        .sync()
        .xreadgroup(
            io.lettuce.core.Consumer.from("a", "c"),
            XReadArgs.Builder.count(10),
            XReadArgs.StreamOffset.lastConsumed(stream))
        .forEach(m -> redis.sync().xack(stream, "a", m.getId()));
    redis
        .sync()
        .xreadgroup(
            io.lettuce.core.Consumer.from("b", "c"),
            XReadArgs.Builder.count(10),
            XReadArgs.StreamOffset.lastConsumed(stream))
        .forEach(m -> redis.sync().xack(stream, "b", m.getId()));
    assertThat(trimmer.trim()).isEqualTo(4);
    String fresh = redis.sync().xadd(stream, Map.of("n", "10"));
    assertThat(trimmer.trim()).isZero();
    assertThat(redis.sync().xrange(stream, io.lettuce.core.Range.create("-", "+")))
        .extracting(StreamMessage::getId)
        .containsExactly(fresh);
  }
}
