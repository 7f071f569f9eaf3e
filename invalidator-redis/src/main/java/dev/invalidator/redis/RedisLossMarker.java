package dev.invalidator.redis;

import dev.invalidator.core.KeyScheme;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XReadArgs.StreamOffset;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.Objects;
import java.util.UUID;

/**
 * The Redis side of loss detection: a marker key ({@link KeyScheme#epoch()}) written once Redis
 * holds everything relayed, whose disappearance means Redis restarted without its data or failed
 * over to a replica that never had it; and the stream and consumer group recreated after a loss.
 * The daemon's recovery loop decides when to check and what to replay.
 */
public final class RedisLossMarker {
  private final RedisConnection<String, String> redis;
  private final KeyScheme keys;

  public RedisLossMarker(RedisConnection<String, String> redis, KeyScheme keys) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.keys = Objects.requireNonNull(keys, "keys");
  }

  /** Like {@link #RedisLossMarker(RedisConnection, KeyScheme)}, on a standalone connection. */
  public RedisLossMarker(StatefulRedisConnection<String, String> redis, KeyScheme keys) {
    this(RedisConnection.of(redis), keys);
  }

  /** The marker's key, for log messages. */
  public String key() {
    return keys.epoch();
  }

  /** The current marker, or null when Redis has none. */
  public String read() {
    return redis.sync().get(keys.epoch());
  }

  /** Writes a new marker unless one exists, and returns the marker Redis holds now. */
  public String writeIfAbsent() {
    redis.sync().setnx(keys.epoch(), UUID.randomUUID().toString());
    return read();
  }

  /** Creates the stream and {@code group} at id 0 after a loss; an existing group is kept. */
  public void recreateStream(String group) {
    try {
      redis
          .sync()
          .xgroupCreate(
              StreamOffset.from(keys.stream(), "0"), group, XGroupCreateArgs.Builder.mkstream());
    } catch (RuntimeException ex) {
      if (!RedisErrors.isBusyGroup(ex)) {
        throw RedisErrors.translate("XGROUP CREATE " + keys.stream() + " " + group, ex);
      }
    }
  }
}
