package dev.invalidator.redis;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Payload;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;

/**
 * The shared Redis of the tests. Other modules' tests use the same server at the same time, so
 * every test works under its own random key prefix and deletes only its own keys.
 */
final class TestRedis {
  static final RedisClient CLIENT = RedisClient.create(TestServers.redisUrl());

  private static final SecureRandom RANDOM = new SecureRandom();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(CLIENT::shutdown, "test-redis-shutdown"));
  }

  private TestRedis() {}

  static KeyScheme randomKeys() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    return new KeyScheme("t" + HexFormat.of().formatHex(b));
  }

  /** Deletes every key under the scheme's prefix (the prefix has no glob characters). */
  static void deleteAll(StatefulRedisConnection<String, String> redis, KeyScheme keys) {
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<String> page =
          redis.sync().scan(cursor, ScanArgs.Builder.matches(keys.prefix() + ":*").limit(500));
      if (!page.getKeys().isEmpty()) {
        redis.sync().unlink(page.getKeys().toArray(String[]::new));
      }
      cursor = page;
    } while (!cursor.isFinished());
  }

  static InvalidationEvent event(AggregateRef ref, long version, String... views) {
    return InvalidationEvent.builder()
        .aggregate(ref)
        .version(version)
        .payload(Payload.ofViews(views))
        .createdAt(Instant.now().truncatedTo(ChronoUnit.MILLIS))
        .build();
  }

  static CacheClient.Versioned value(long version, String text) {
    return new CacheClient.Versioned(version, text.getBytes(StandardCharsets.UTF_8));
  }

  static String text(CacheClient.Versioned v) {
    return v == null ? null : new String(v.value(), StandardCharsets.UTF_8);
  }

  /** Fills {@code view} of {@code ref} at {@code version} through the cache's fill protocol. */
  static CacheClient.Versioned fill(
      CacheClient cache, AggregateRef ref, String view, long version) {
    return cache.get(
        ref.tenantId(),
        ref.type(),
        ref.id(),
        view,
        () -> value(version, ref + "/" + view + "@" + version));
  }
}
