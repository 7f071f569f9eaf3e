package dev.invalidator.redis;

import dev.invalidator.core.FailureHistory;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * First-failure times of stream entries, one key per failing entry ({@code <prefix>:failed:<id>},
 * written with {@code SET NX} and a TTL so that records of entries finished elsewhere expire). Only
 * the failure path touches it.
 */
public final class RedisFailureHistory implements FailureHistory {
  /** How long a record outlives the entry's last failure. */
  public static final Duration TTL = Duration.ofDays(7);

  private final RedisConnection<String, String> connection;
  private final KeyScheme keys;

  public RedisFailureHistory(RedisConnection<String, String> connection, KeyScheme keys) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.keys = Objects.requireNonNull(keys, "keys");
  }

  /** Like {@link #RedisFailureHistory(RedisConnection, KeyScheme)}, on a standalone connection. */
  public RedisFailureHistory(StatefulRedisConnection<String, String> connection, KeyScheme keys) {
    this(RedisConnection.of(connection), keys);
  }

  @Override
  public Instant recordFailure(String entryId, Instant now) {
    String key = keys.failure(entryId);
    var async = connection.async();
    var set = async.set(key, Long.toString(now.toEpochMilli()), SetArgs.Builder.nx().px(TTL));
    var get = async.get(key);
    RedisErrors.await(set, connection.getTimeout(), "SET " + key);
    String first = RedisErrors.await(get, connection.getTimeout(), "GET " + key);
    try {
      return first == null ? now : Instant.ofEpochMilli(Long.parseLong(first));
    } catch (NumberFormatException ex) {
      return now;
    }
  }

  @Override
  public void forget(String entryId) {
    String key = keys.failure(entryId);
    RedisErrors.await(connection.async().unlink(key), connection.getTimeout(), "UNLINK " + key);
  }
}
