package dev.invalidator.server;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxReplay;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisConnection;
import dev.invalidator.redis.RedisLossMarker;
import dev.invalidator.redis.RedisStreamPublisher;
import dev.invalidator.redis.StreamTrimmer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's maintenance loop: notices that Redis lost data and repairs it from the outbox, and
 * trims the stream safely.
 *
 * <p>Design notes. Loss is detected with a marker key ({@link KeyScheme#epoch()}) that this loop
 * writes once Redis holds everything relayed: if the marker disappears, Redis restarted without
 * persistence or failed over to a replica that never had it. A relay that starts and finds no
 * marker while the outbox holds rows relayed inside the window also recovers (a loss while no relay
 * ran, or a relay that died in the middle of a recovery: the marker is written only after the
 * replay completed). Recovery creates the stream and the consumer group again (at id 0) and
 * re-publishes the outbox rows relayed within {@code recovery.replayWindow} before the loss was
 * noticed, plus the check interval; events that were in flight in the lost stream are among them,
 * so they are applied, not forgotten. The replay is a duplicate for whatever targets had applied:
 * harmless (G4). Several relays may each notice and replay; that is more duplicates, still
 * harmless.
 *
 * <p>With {@code transport: kafka} the events in flight are safe on the topic, but the cache's
 * fences and versions were lost with Redis: the same replay goes to the topic instead (so the
 * workers write the fences again), and there is no stream to recreate or trim.
 */
final class RedisLossRecovery implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(RedisLossRecovery.class);

  private final RedisLossMarker marker;
  private final KeyScheme keys;
  private final String group;
  private final OutboxReplay replay;
  private final EventPublisher publisher;
  private final boolean streamOnRedis;
  private final StreamTrimmer trimmer;
  private final Duration window;
  private final Duration checkInterval;
  private final Duration trimInterval;
  private final Clock clock;
  private final CountDownLatch stop = new CountDownLatch(1);
  private String knownEpoch;
  private Instant nextTrim;
  private volatile long recoveries;
  private final java.util.concurrent.atomic.AtomicLong checkFailures =
      new java.util.concurrent.atomic.AtomicLong();

  RedisLossRecovery(
      RedisConnection<String, String> redis,
      KeyScheme keys,
      String group,
      DataSource dataSource,
      OutboxTable table,
      Duration window,
      Duration checkInterval,
      Duration trimInterval,
      EventPublisher kafkaPublisher,
      Clock clock) {
    this.marker = new RedisLossMarker(redis, keys);
    this.keys = keys;
    this.group = group;
    this.replay = new OutboxReplay(dataSource, table);
    this.streamOnRedis = kafkaPublisher == null;
    this.publisher = streamOnRedis ? new RedisStreamPublisher(redis, keys, clock) : kafkaPublisher;
    this.trimmer = new StreamTrimmer(redis, keys.stream());
    this.window = window;
    this.checkInterval = checkInterval;
    this.trimInterval = trimInterval;
    this.clock = clock;
    this.nextTrim = clock.instant().plus(trimInterval);
  }

  void stop() {
    stop.countDown();
  }

  /** How many losses this loop repaired. */
  long recoveries() {
    return recoveries;
  }

  /** Checks (or trims) that failed since start; each is retried with backoff. */
  long checkFailures() {
    return checkFailures.get();
  }

  @Override
  public void run() {
    int failures = 0;
    while (stop.getCount() > 0) {
      try {
        check();
        if (streamOnRedis && !clock.instant().isBefore(nextTrim)) {
          nextTrim = clock.instant().plus(trimInterval);
          trimmer.trim();
        }
        failures = 0;
        if (stop.await(checkInterval.toMillis(), TimeUnit.MILLISECONDS)) {
          break;
        }
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException ex) {
        checkFailures.incrementAndGet();
        Duration delay = Backoff.DEFAULT.delay(failures++);
        log.warn("recovery check failed, retrying in {} ms: {}", delay.toMillis(), ex.toString());
        try {
          if (stop.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
            break;
          }
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    log.info("recovery loop stopped");
  }

  /** One check; returns true if a loss was found and repaired. */
  boolean check() {
    String epoch = marker.read();
    Instant now = clock.instant();
    String reason = null;
    if (epoch == null) {
      if (knownEpoch != null) {
        reason = "the marker " + keys.epoch() + " vanished (Redis restarted without its data?)";
      } else if (replay.count(now.minus(window), now.plusSeconds(1), null) > 0) {
        // No marker, but rows were relayed recently: either Redis lost them, or an earlier
        // process noticed a loss and died before finishing its replay. Replaying is safe.
        reason =
            "the marker " + keys.epoch() + " is missing while the outbox relayed rows recently";
      }
      if (reason != null) {
        recover(reason, now);
      }
      // Written only after a complete replay: a crash during the replay leaves the marker
      // missing, and the next relay replays again.
      knownEpoch = marker.writeIfAbsent();
      return reason != null;
    }
    if (knownEpoch == null) {
      knownEpoch = epoch;
    } else if (!epoch.equals(knownEpoch)) {
      // Another process noticed a loss and completed its replay; nothing left to do here.
      log.info("the marker {} changed: another process recovered from a Redis loss", keys.epoch());
      knownEpoch = epoch;
    }
    return false;
  }

  private void recover(String reason, Instant now) {
    if (streamOnRedis) {
      log.warn("Redis data loss detected: {}; recreating stream and group", reason);
      marker.recreateStream(group);
    } else {
      log.warn("Redis data loss detected: {}; replaying the outbox to {}", reason, publisher);
    }
    Instant since = now.minus(window).minus(checkInterval);
    long n =
        replay.replay(
            since,
            now.plusSeconds(1),
            null,
            publisher,
            500,
            (done, total) -> log.debug("replayed {}/{}", done, total));
    recoveries++;
    log.warn(
        "re-published {} outbox rows relayed since {} to {} after the loss",
        n,
        since,
        publisher.destination());
  }
}
