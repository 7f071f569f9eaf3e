package dev.invalidator.redis;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.util.Objects;

/**
 * A Lettuce client, standalone or cluster, seen as what {@link CacheClient} and its tiers open on
 * it: command connections ({@link RedisConnection}) and a Pub/Sub connection. A cluster Pub/Sub
 * connection subscribes on one node; plain {@code PUBLISH} is broadcast to every node of a cluster,
 * so it receives every channel's messages whichever node published them.
 */
public final class RedisConnector {
  private final RedisClient standalone;
  private final RedisClusterClient cluster;

  private RedisConnector(RedisClient standalone, RedisClusterClient cluster) {
    this.standalone = standalone;
    this.cluster = cluster;
  }

  /** A standalone client. */
  public static RedisConnector of(RedisClient client) {
    return new RedisConnector(Objects.requireNonNull(client, "client"), null);
  }

  /** A cluster client. */
  public static RedisConnector of(RedisClusterClient client) {
    return new RedisConnector(null, Objects.requireNonNull(client, "client"));
  }

  /** Opens a command connection with {@code codec}. */
  public <K, V> RedisConnection<K, V> connect(RedisCodec<K, V> codec) {
    return standalone != null
        ? RedisConnection.of(standalone.connect(codec))
        : RedisConnection.of(cluster.connect(codec));
  }

  /** Opens a command connection with string keys and values. */
  public RedisConnection<String, String> connect() {
    return connect(StringCodec.UTF8);
  }

  /** Opens a Pub/Sub connection with string keys and values. */
  public StatefulRedisPubSubConnection<String, String> connectPubSub() {
    return standalone != null
        ? standalone.connectPubSub(StringCodec.UTF8)
        : cluster.connectPubSub(StringCodec.UTF8);
  }

  /** True for a cluster client. */
  public boolean cluster() {
    return cluster != null;
  }

  /** The Lettuce client, for connection-state listeners and shutdown. */
  public AbstractRedisClient client() {
    return standalone != null ? standalone : cluster;
  }
}
