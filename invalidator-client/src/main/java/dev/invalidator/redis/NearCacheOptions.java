package dev.invalidator.redis;

import dev.invalidator.core.Backoff;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of {@link CacheClient}'s optional in-process tier.
 *
 * @param maximumSize most aggregates held (each with its cached views); {@code >= 1}
 * @param ttl how long a value is served from process memory at most; {@code >= 1 ms}
 * @param channels Pub/Sub channels invalidations are sharded over by tenant; must equal the
 *     daemon's {@code nearCache.channels}
 * @param heartbeatTimeout silence after which the tier is flushed and bypassed until messages flow
 *     again; must exceed the daemon's {@code nearCache.heartbeatInterval}
 * @param reconnect backoff (with full jitter) between attempts to re-subscribe
 */
public record NearCacheOptions(
    long maximumSize, Duration ttl, int channels, Duration heartbeatTimeout, Backoff reconnect) {
  /** Default most aggregates held. */
  public static final long DEFAULT_MAXIMUM_SIZE = 10_000;

  /** Default in-process TTL. */
  public static final Duration DEFAULT_TTL = Duration.ofSeconds(30);

  /** Default number of channels. */
  public static final int DEFAULT_CHANNELS = 16;

  /** Default heartbeat timeout (three default heartbeat intervals). */
  public static final Duration DEFAULT_HEARTBEAT_TIMEOUT = Duration.ofSeconds(3);

  /** Default reconnect backoff: 100 ms doubling up to 5 s, with full jitter. */
  public static final Backoff DEFAULT_RECONNECT =
      new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5));

  public NearCacheOptions {
    if (maximumSize < 1) {
      throw new IllegalArgumentException("nearCache.maximumSize must be >= 1, got " + maximumSize);
    }
    if (ttl == null || ttl.toMillis() < 1) {
      throw new IllegalArgumentException("nearCache.ttl must be at least 1 ms, got " + ttl);
    }
    if (channels < 1 || channels > 1024) {
      throw new IllegalArgumentException("nearCache.channels must be in 1..1024, got " + channels);
    }
    if (heartbeatTimeout == null || heartbeatTimeout.toMillis() < 10) {
      throw new IllegalArgumentException(
          "nearCache.heartbeatTimeout must be at least 10 ms, got " + heartbeatTimeout);
    }
    Objects.requireNonNull(reconnect, "nearCache.reconnect");
  }

  /** The defaults. */
  public static NearCacheOptions defaults() {
    return new NearCacheOptions(
        DEFAULT_MAXIMUM_SIZE,
        DEFAULT_TTL,
        DEFAULT_CHANNELS,
        DEFAULT_HEARTBEAT_TIMEOUT,
        DEFAULT_RECONNECT);
  }

  /** A copy with another maximum size. */
  public NearCacheOptions withMaximumSize(long maximumSize) {
    return new NearCacheOptions(maximumSize, ttl, channels, heartbeatTimeout, reconnect);
  }

  /** A copy with another TTL. */
  public NearCacheOptions withTtl(Duration ttl) {
    return new NearCacheOptions(maximumSize, ttl, channels, heartbeatTimeout, reconnect);
  }

  /** A copy with another channel count. */
  public NearCacheOptions withChannels(int channels) {
    return new NearCacheOptions(maximumSize, ttl, channels, heartbeatTimeout, reconnect);
  }

  /** A copy with another heartbeat timeout. */
  public NearCacheOptions withHeartbeatTimeout(Duration heartbeatTimeout) {
    return new NearCacheOptions(maximumSize, ttl, channels, heartbeatTimeout, reconnect);
  }

  /** A copy with another reconnect backoff. */
  public NearCacheOptions withReconnect(Backoff reconnect) {
    return new NearCacheOptions(maximumSize, ttl, channels, heartbeatTimeout, reconnect);
  }
}
