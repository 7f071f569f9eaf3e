package dev.invalidator.redis;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.StreamEntry;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.Command;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes relayed outbox rows to the Redis stream {@code <prefix>:stream}, one {@code XADD} per
 * event, pipelined.
 *
 * <p>All commands of a batch are sent before any reply is awaited (Lettuce writes asynchronous
 * commands without waiting), then every reply is awaited; any failure fails the whole batch, so the
 * relay rolls back and publishes again (a duplicate for the entries that did go out, harmless by
 * G4). The stream is never trimmed here: trimming must not drop entries still pending in a consumer
 * group. The connection may be shared; this class never changes its settings and never closes it.
 */
public final class RedisStreamPublisher implements EventPublisher {
  private static final Logger log = LoggerFactory.getLogger(RedisStreamPublisher.class);

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
    // One write and one flush for the whole batch (StatefulConnection.dispatch of a collection):
    // an XADD per async call was flushed on its own, a write system call and an event-loop task
    // per event, which made Lettuce's I/O thread as busy as the relay itself (JFR, relay drain).
    List<AsyncCommand<String, String, String>> replies = new ArrayList<>(batch.size());
    for (Outgoing o : batch) {
      CommandArgs<String, String> args =
          new CommandArgs<>(StringCodec.UTF8).addKey(stream).add("*");
      args.add(StreamEntry.fields(o.outboxId(), o.event(), o.event().createdAt(), now));
      replies.add(
          new AsyncCommand<>(
              new Command<>(CommandType.XADD, new StatusOutput<>(StringCodec.UTF8), args)));
    }
    connection.stateful().dispatch(replies);
    Duration timeout = connection.getTimeout();
    try {
      RedisErrors.await(
          CompletableFuture.allOf(replies.toArray(CompletableFuture<?>[]::new)),
          timeout,
          "XADD to " + stream);
    } catch (InvalidatorException ex) {
      long failed =
          replies.stream().filter(f -> !f.isDone() || f.isCompletedExceptionally()).count();
      log.debug("{} of {} XADDs to {} failed: {}", failed, batch.size(), stream, ex.toString());
      throw new InvalidatorException(
          "could not publish " + failed + " of " + batch.size() + " events to " + stream, true, ex);
    }
  }
}
