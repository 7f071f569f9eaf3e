package dev.invalidator.redis;

import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.Objects;

/**
 * One Lettuce connection to a standalone Redis or to a Redis Cluster: the seam that lets the stream
 * transport, the targets and the recovery code run on either. Lettuce's standalone command
 * interfaces ({@code RedisCommands}, {@code RedisAsyncCommands}) and its cluster ones ({@code
 * RedisAdvancedClusterCommands}, ...) share {@link RedisClusterCommands} and {@link
 * RedisClusterAsyncCommands}; code written against those runs on both. On a cluster, Lettuce routes
 * each single-key command to the slot's master and splits the multi-key commands it knows ({@code
 * UNLINK}, {@code EXISTS}, {@code MGET}) by slot; a Lua script's keys must share one slot (the
 * callers make sure of that, see docs/architecture.md "Redis Cluster").
 *
 * @param <K> key type
 * @param <V> value type
 */
public interface RedisConnection<K, V> extends AutoCloseable {

  /** Blocking commands. */
  RedisClusterCommands<K, V> sync();

  /** Asynchronous commands. */
  RedisClusterAsyncCommands<K, V> async();

  /** The connection's command timeout. */
  Duration getTimeout();

  /** True on a Redis Cluster connection. */
  boolean cluster();

  /** The Lettuce connection underneath. */
  StatefulConnection<K, V> stateful();

  /** Closes the Lettuce connection. */
  @Override
  void close();

  /** Wraps a standalone connection. */
  static <K, V> RedisConnection<K, V> of(StatefulRedisConnection<K, V> connection) {
    Objects.requireNonNull(connection, "connection");
    return new RedisConnection<>() {
      @Override
      public RedisClusterCommands<K, V> sync() {
        return connection.sync();
      }

      @Override
      public RedisClusterAsyncCommands<K, V> async() {
        return connection.async();
      }

      @Override
      public Duration getTimeout() {
        return connection.getTimeout();
      }

      @Override
      public boolean cluster() {
        return false;
      }

      @Override
      public StatefulConnection<K, V> stateful() {
        return connection;
      }

      @Override
      public void close() {
        connection.close();
      }
    };
  }

  /** Wraps a cluster connection. */
  static <K, V> RedisConnection<K, V> of(StatefulRedisClusterConnection<K, V> connection) {
    Objects.requireNonNull(connection, "connection");
    return new RedisConnection<>() {
      @Override
      public RedisClusterCommands<K, V> sync() {
        return connection.sync();
      }

      @Override
      public RedisClusterAsyncCommands<K, V> async() {
        return connection.async();
      }

      @Override
      public Duration getTimeout() {
        return connection.getTimeout();
      }

      @Override
      public boolean cluster() {
        return true;
      }

      @Override
      public StatefulConnection<K, V> stateful() {
        return connection;
      }

      @Override
      public void close() {
        connection.close();
      }
    };
  }
}
