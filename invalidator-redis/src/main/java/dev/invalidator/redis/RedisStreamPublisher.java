package dev.invalidator.redis;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.StreamEntry;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes relayed outbox rows to the Redis stream {@code <prefix>:stream}: one {@code XADD} per
 * event, run by {@code xadd.lua} in runs of at most {@link #ENTRIES_PER_SCRIPT} entries, so a
 * worker blocked on the stream wakes to a whole run rather than to its first entry (the script says
 * why).
 *
 * <p>All calls of a batch are sent before any reply is awaited (Lettuce writes asynchronous
 * commands without waiting), then every reply is awaited; any failure fails the whole batch, so the
 * relay rolls back and publishes again (a duplicate for the entries that did go out, harmless by
 * G4). The stream is never trimmed here: trimming must not drop entries still pending in a consumer
 * group. The connection may be shared; this class never changes its settings and never closes it.
 */
public final class RedisStreamPublisher implements EventPublisher {
  private static final Logger log = LoggerFactory.getLogger(RedisStreamPublisher.class);

  /**
   * The most entries one {@code xadd.lua} call adds. A relay batch at a steady rate (tens of
   * events) is one call, so a blocked worker wakes to all of it; a drain's batch of thousands is
   * split, so no single script holds Redis for more than a fraction of a millisecond.
   */
  public static final int ENTRIES_PER_SCRIPT = 128;

  private static final LuaScript XADD = LuaScript.load("xadd.lua");

  private final RedisConnection<String, String> connection;
  private final String stream;
  private final Clock clock;

  /**
   * @param connection a connection with string keys and values; shared use is fine
   * @param keys the key scheme naming the stream
   * @param clock the source of {@code published_at_ms}
   */
  public RedisStreamPublisher(
      RedisConnection<String, String> connection, KeyScheme keys, Clock clock) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.stream = Objects.requireNonNull(keys, "keys").stream();
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Like {@link #RedisStreamPublisher(RedisConnection, KeyScheme, Clock)}, on a standalone
   * connection.
   */
  public RedisStreamPublisher(
      StatefulRedisConnection<String, String> connection, KeyScheme keys, Clock clock) {
    this(RedisConnection.of(connection), keys, clock);
  }

  /** The stream key entries are added to. */
  public String stream() {
    return stream;
  }

  @Override
  public String destination() {
    return stream;
  }

  /**
   * Adds every event of {@code batch} to the stream and returns once Redis acknowledged them all.
   *
   * @throws InvalidatorException (retryable) if any entry could not be added
   */
  @Override
  public void publish(List<Outgoing> batch) {
    if (batch.isEmpty()) {
      return;
    }
    Instant now = clock.instant();
    String[] keys = {stream};
    List<CompletableFuture<Long>> replies = new ArrayList<>();
    for (int from = 0; from < batch.size(); from += ENTRIES_PER_SCRIPT) {
      List<Outgoing> run = batch.subList(from, Math.min(batch.size(), from + ENTRIES_PER_SCRIPT));
      List<String> args = new ArrayList<>(run.size() * 13);
      for (Outgoing o : run) {
        Map<String, String> fields =
            StreamEntry.fields(o.outboxId(), o.event(), o.event().createdAt(), now);
        args.add(Integer.toString(fields.size() * 2));
        fields.forEach(
            (field, value) -> {
              args.add(field);
              args.add(value);
            });
      }
      replies.add(
          XADD.<String, String, Long>callAsync(
              connection.async(), ScriptOutputType.INTEGER, keys, args.toArray(String[]::new)));
    }
    Duration timeout = connection.getTimeout();
    try {
      RedisErrors.await(
          CompletableFuture.allOf(replies.toArray(CompletableFuture<?>[]::new)),
          timeout,
          "XADD to " + stream);
    } catch (InvalidatorException ex) {
      long failed =
          replies.stream().filter(f -> !f.isDone() || f.isCompletedExceptionally()).count();
      log.debug(
          "{} of {} xadd.lua calls ({} events) to {} failed: {}",
          failed,
          replies.size(),
          batch.size(),
          stream,
          ex.toString());
      throw new InvalidatorException(
          "could not publish "
              + batch.size()
              + " events to "
              + stream
              + " ("
              + failed
              + " of "
              + replies.size()
              + " xadd.lua calls failed)",
          true,
          ex);
    }
  }
}
