package dev.invalidator.bench;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.redis.RedisStreamPublisher;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Cache entries and stream entries the Redis scenarios start from, written pipelined. */
final class RedisFixtures {
  static final String TYPE = "account";
  static final String VIEW = "summary";
  private static final String VALUE =
      "{\"balance\":1234567,\"owner\":\"bench\",\"pad\":\"xxxxxxxx\"}";
  private static final int CHUNK = 1000;

  private RedisFixtures() {}

  static AggregateRef aggregate(long i) {
    return new AggregateRef("t" + (i % 8), TYPE, "a" + i);
  }

  /**
   * Writes, for aggregates {@code from..to-1}, the view entry {@code {ver: 0, val}} and registers
   * the view, as a {@code CacheClient} fill would: every later event of those aggregates has an
   * entry to unlink.
   */
  static void fillEntries(
      StatefulRedisConnection<String, String> conn, KeyScheme keys, long from, long to)
      throws Exception {
    RedisAsyncCommands<String, String> async = conn.async();
    List<RedisFuture<?>> pending = new ArrayList<>(2 * CHUNK);
    for (long i = from; i < to; i++) {
      AggregateRef ref = aggregate(i);
      pending.add(async.hset(keys.entry(ref, VIEW), Map.of("ver", "0", "val", VALUE)));
      pending.add(async.sadd(keys.views(ref), VIEW));
      if (pending.size() >= 2 * CHUNK) {
        awaitAll(pending);
      }
    }
    awaitAll(pending);
  }

  /** Counts entries of aggregates {@code from..to-1} still present (pipelined EXISTS). */
  static long countEntries(
      StatefulRedisConnection<String, String> conn, KeyScheme keys, long from, long to)
      throws Exception {
    RedisAsyncCommands<String, String> async = conn.async();
    long present = 0;
    List<RedisFuture<Long>> pending = new ArrayList<>(CHUNK);
    for (long i = from; i < to; i++) {
      pending.add(async.exists(keys.entry(aggregate(i), VIEW)));
      if (pending.size() >= CHUNK || i == to - 1) {
        for (RedisFuture<Long> f : pending) {
          present += f.get(30, TimeUnit.SECONDS);
        }
        pending.clear();
      }
    }
    return present;
  }

  /**
   * Counts aggregates {@code from..to-1} whose fence is absent or below {@code version} (pipelined
   * GET): events never applied.
   */
  static long countFencesBelow(
      StatefulRedisConnection<String, String> conn,
      KeyScheme keys,
      long from,
      long to,
      long version)
      throws Exception {
    RedisAsyncCommands<String, String> async = conn.async();
    long below = 0;
    List<RedisFuture<String>> pending = new ArrayList<>(CHUNK);
    for (long i = from; i < to; i++) {
      pending.add(async.get(keys.fence(aggregate(i))));
      if (pending.size() >= CHUNK || i == to - 1) {
        for (RedisFuture<String> f : pending) {
          String fence = f.get(30, TimeUnit.SECONDS);
          if (fence == null || Long.parseLong(fence) < version) {
            below++;
          }
        }
        pending.clear();
      }
    }
    return below;
  }

  /** Publishes one event (version 1) per aggregate {@code 0..n-1} to the stream, pipelined. */
  static void publishEvents(StatefulRedisConnection<String, String> conn, KeyScheme keys, long n) {
    RedisStreamPublisher publisher = new RedisStreamPublisher(conn, keys, Clock.systemUTC());
    List<EventPublisher.Outgoing> batch = new ArrayList<>(CHUNK);
    Instant now = Instant.now();
    for (long i = 0; i < n; i++) {
      batch.add(
          new EventPublisher.Outgoing(
              i + 1,
              InvalidationEvent.builder()
                  .aggregate(aggregate(i))
                  .version(1)
                  .createdAt(now)
                  .build()));
      if (batch.size() >= CHUNK || i == n - 1) {
        publisher.publish(List.copyOf(batch));
        batch.clear();
      }
    }
  }

  static void awaitAll(List<? extends RedisFuture<?>> futures) throws Exception {
    for (RedisFuture<?> f : futures) {
      f.get(30, TimeUnit.SECONDS);
    }
    futures.clear();
  }
}
