package dev.invalidator.redis;

import dev.invalidator.core.KeyScheme;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes a heartbeat on every near-cache channel at a fixed interval, carrying the channel's
 * current sequence number ({@code heartbeat.lua}). Subscribers detect a lost message by a heartbeat
 * whose number they have not seen, and a dead connection by silence. Run it in the daemon; several
 * daemons may run it at once (heartbeats change nothing).
 *
 * <p>The loop never dies: a failed round is retried at the next tick. Failures are not quiet:
 * subscribers that miss heartbeats drop their near caches, so the first failure of a streak is
 * logged at WARN (then at most once a minute while it lasts), the recovery at INFO, and {@link
 * #failures()} counts them for a metric. {@link #stop()} ends the loop.
 */
public final class NearCacheHeartbeat implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(NearCacheHeartbeat.class);

  private static final long WARN_EVERY_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final RedisConnection<String, String> connection;
  private final AtomicLong failures = new AtomicLong();
  private long failingSince;
  private long failingRounds;
  private long lastWarning;
  private final KeyScheme keys;
  private final int channels;
  private final Duration interval;
  private final CountDownLatch stopped = new CountDownLatch(1);

  /**
   * @param connection a string connection; shared use is fine
   * @param channels the number of near-cache channels ({@code nearCache.channels}), {@code >= 1}
   * @param interval time between heartbeats ({@code nearCache.heartbeatInterval})
   */
  public NearCacheHeartbeat(
      RedisConnection<String, String> connection, KeyScheme keys, int channels, Duration interval) {
    if (channels < 1) {
      throw new IllegalArgumentException("nearCache.channels must be >= 1, got " + channels);
    }
    if (interval == null || interval.toMillis() < 1) {
      throw new IllegalArgumentException(
          "nearCache.heartbeatInterval must be at least 1 ms, got " + interval);
    }
    this.connection = connection;
    this.keys = keys;
    this.channels = channels;
    this.interval = interval;
  }

  /**
   * Like {@link #NearCacheHeartbeat(RedisConnection, KeyScheme, int, Duration)}, on a standalone
   * connection.
   */
  public NearCacheHeartbeat(
      StatefulRedisConnection<String, String> connection,
      KeyScheme keys,
      int channels,
      Duration interval) {
    this(RedisConnection.of(connection), keys, channels, interval);
  }

  /** Publishes one heartbeat on every channel and waits for the replies. */
  public void beatOnce() {
    RedisClusterAsyncCommands<String, String> async = connection.async();
    List<CompletableFuture<Object>> replies = new ArrayList<>(channels);
    for (int shard = 0; shard < channels; shard++) {
      replies.add(
          LuaScript.HEARTBEAT.callAsync(
              async,
              ScriptOutputType.VALUE,
              new String[] {keys.nearSequence(shard)},
              new String[] {keys.nearChannel(shard)}));
    }
    RedisErrors.await(
        CompletableFuture.allOf(replies.toArray(CompletableFuture<?>[]::new)),
        connection.getTimeout(),
        "near-cache heartbeat");
  }

  @Override
  public void run() {
    try {
      do {
        try {
          beatOnce();
          if (failingSince != 0) {
            log.info("near-cache heartbeats published again after {} failed rounds", failingRounds);
            failingSince = 0;
            failingRounds = 0;
          }
        } catch (RuntimeException ex) {
          failures.incrementAndGet();
          failingRounds++;
          long now = System.nanoTime();
          if (failingSince == 0 || now - lastWarning >= WARN_EVERY_NANOS) {
            log.warn(
                "near-cache heartbeat failed ({} rounds in a row); subscribers will drop their"
                    + " near caches until it recovers: {}",
                failingRounds,
                ex.toString());
            lastWarning = now;
          }
          if (failingSince == 0) {
            failingSince = now;
          }
        }
      } while (!stopped.await(interval.toMillis(), TimeUnit.MILLISECONDS));
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
  }

  /** Rounds that failed since this heartbeat was built. */
  public long failures() {
    return failures.get();
  }

  /** Ends {@link #run()} after the current round. */
  public void stop() {
    stopped.countDown();
  }
}
