package dev.invalidator.redis;

import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The settings a daemon applies invalidations with that every {@link CacheClient} must share. The
 * daemon's workers publish them in the hash {@link KeyScheme#settings()} ({@code
 * <prefix>:settings}) when they start; {@link CacheClient.Builder#build()} reads that hash and
 * refuses to start on a different fence TTL, or runs without its near tier (with a WARN) on a
 * different channel count, naming both values. Without the hash (no daemon has started under this
 * prefix yet, or Redis lost its data) nothing is checked.
 *
 * @param fenceTtl the daemon's {@code cache.fenceTtl}; at least 1 ms
 * @param nearCacheChannels the daemon's {@code nearCache.channels}; 0 when it publishes no
 *     near-cache messages
 */
public record PipelineSettings(Duration fenceTtl, int nearCacheChannels) {
  static final String FENCE_TTL_FIELD = "fence_ttl_ms";
  static final String CHANNELS_FIELD = "near_cache_channels";

  private static final Logger log = LoggerFactory.getLogger(PipelineSettings.class);

  public PipelineSettings {
    if (fenceTtl == null || fenceTtl.toMillis() < 1) {
      throw new IllegalArgumentException("cache.fenceTtl must be at least 1 ms, got " + fenceTtl);
    }
    if (nearCacheChannels < 0 || nearCacheChannels > 1024) {
      throw new IllegalArgumentException(
          "nearCache.channels must be in 0..1024, got " + nearCacheChannels);
    }
  }

  /**
   * Writes these settings to {@code <prefix>:settings} (no TTL). When another daemon published
   * different ones under the same prefix, logs a WARN naming both: one of them is misconfigured,
   * and the clients will be checked against whichever wrote last.
   */
  public void publish(RedisConnection<String, String> connection, KeyScheme keys) {
    String key = keys.settings();
    Optional<PipelineSettings> previous = read(connection, keys);
    if (previous.isPresent() && !previous.get().equals(this)) {
      log.warn(
          "{} held {} from another daemon (or an earlier configuration); replacing it with {}:"
              + " every daemon and client under prefix {} must use the same values",
          key,
          previous.get(),
          this,
          keys.prefix());
    }
    Map<String, String> fields = new LinkedHashMap<>();
    fields.put(FENCE_TTL_FIELD, Long.toString(fenceTtl.toMillis()));
    fields.put(CHANNELS_FIELD, Integer.toString(nearCacheChannels));
    connection.sync().hset(key, fields);
  }

  /** Like {@link #publish(RedisConnection, KeyScheme)}, on a standalone connection. */
  public void publish(StatefulRedisConnection<String, String> connection, KeyScheme keys) {
    publish(RedisConnection.of(connection), keys);
  }

  /** The published settings, empty when none (or when they cannot be parsed: logged at WARN). */
  public static Optional<PipelineSettings> read(
      RedisConnection<String, String> connection, KeyScheme keys) {
    return Optional.ofNullable(parse(keys.settings(), connection.sync().hgetall(keys.settings())));
  }

  /** Like {@link #read(RedisConnection, KeyScheme)}, on a standalone connection. */
  public static Optional<PipelineSettings> read(
      StatefulRedisConnection<String, String> connection, KeyScheme keys) {
    return read(RedisConnection.of(connection), keys);
  }

  /** Parses the hash's fields; null when it is empty or malformed. */
  static PipelineSettings parse(String key, Map<String, String> fields) {
    if (fields == null || fields.isEmpty()) {
      return null;
    }
    try {
      return new PipelineSettings(
          Duration.ofMillis(Long.parseLong(fields.get(FENCE_TTL_FIELD))),
          Integer.parseInt(fields.get(CHANNELS_FIELD)));
    } catch (RuntimeException ex) {
      log.warn(
          "{} holds unreadable settings {}; not checking against them: {}",
          key,
          fields,
          ex.toString());
      return null;
    }
  }

  @Override
  public String toString() {
    return "cache.fenceTtl=" + fenceTtl + ", nearCache.channels=" + nearCacheChannels;
  }
}
