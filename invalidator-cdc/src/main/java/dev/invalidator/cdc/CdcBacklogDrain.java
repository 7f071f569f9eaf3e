package dev.invalidator.cdc;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.outbox.OutboxTable;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Benchmark hook: how fast the CDC relay drains a backlog of committed, unrelayed outbox rows (the
 * "Debezium peer" of a relay drain comparison). It starts a {@link CdcRelay} on a slot and
 * publication of its own, so the first start snapshots the rows with {@code relayed_at IS NULL},
 * counts events until {@code expected} were published, then closes the relay and removes the slot,
 * the publication and the offsets. Rows are not marked relayed unless asked, so the same backlog
 * can be drained again by another relay.
 *
 * <p>The time runs from before {@link CdcRelay#start()} (slot creation and the snapshot's
 * transaction included, as both are part of what a switch to CDC costs) to the publish call that
 * reached {@code expected}.
 */
public final class CdcBacklogDrain {
  /**
   * What one drain measured.
   *
   * @param events events published (at least the expected number)
   * @param elapsed from before {@link CdcRelay#start()} to the publish that reached the expected
   *     number
   * @param untilFirstEvent from before {@link CdcRelay#start()} to the first publish: the start-up
   *     cost (engine, slot creation, snapshot transaction), which dominates small backlogs
   */
  public record Result(long events, Duration elapsed, Duration untilFirstEvent) {
    /** Events per second over {@link #elapsed()}. */
    public double eventsPerSecond() {
      double seconds = elapsed.toNanos() / 1e9;
      return seconds <= 0 ? 0 : events / seconds;
    }

    /** Events per second after the first publish: the drain rate without the start-up. */
    public double eventsPerSecondAfterStart() {
      double seconds = elapsed.minus(untilFirstEvent).toNanos() / 1e9;
      return seconds <= 0 ? 0 : events / seconds;
    }
  }

  private static final Logger log = LoggerFactory.getLogger(CdcBacklogDrain.class);

  private CdcBacklogDrain() {}

  /**
   * Drains the backlog of {@code table} into {@code publisher}.
   *
   * @param jdbcUrl the outbox's database, a user with the REPLICATION attribute
   * @param expected how many events make the backlog (the unrelayed rows); the drain ends when at
   *     least this many were published
   * @param markRelayed whether to mark the drained rows relayed, as a production relay does
   * @param timeout the longest drain
   * @throws TimeoutException when fewer than {@code expected} events arrived within {@code timeout}
   */
  public static Result drain(
      String jdbcUrl,
      OutboxTable table,
      EventPublisher publisher,
      long expected,
      boolean markRelayed,
      Duration timeout)
      throws TimeoutException, InterruptedException {
    Objects.requireNonNull(publisher, "publisher");
    AtomicLong count = new AtomicLong();
    AtomicLong doneAt = new AtomicLong();
    AtomicLong firstAt = new AtomicLong();
    Object done = new Object();
    EventPublisher counting =
        new EventPublisher() {
          @Override
          public void publish(List<Outgoing> batch) {
            publisher.publish(batch);
            firstAt.compareAndSet(0, System.nanoTime());
            if (count.addAndGet(batch.size()) >= expected) {
              doneAt.compareAndSet(0, System.nanoTime());
              synchronized (done) {
                done.notifyAll();
              }
            }
          }

          @Override
          public String destination() {
            return publisher.destination();
          }
        };
    String suffix = UUID.randomUUID().toString().replace("-", "").substring(0, 8);
    String name = "inv_drain_" + suffix;
    CdcRelay relay =
        CdcRelay.builder(jdbcUrl, table, counting)
            .slotName(name)
            .publicationName(name)
            .markRelayed(markRelayed)
            .snapshotUnrelayed(true)
            .build();
    long started = System.nanoTime();
    try {
      relay.start();
      long deadline = started + timeout.toNanos();
      synchronized (done) {
        while (doneAt.get() == 0) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw new TimeoutException(
                "CDC drain of " + table + " published " + count.get() + " of " + expected);
          }
          done.wait(Math.max(1, left / 1_000_000));
        }
      }
    } finally {
      relay.close();
      relay.decommission();
    }
    Result result =
        new Result(
            count.get(),
            Duration.ofNanos(doneAt.get() - started),
            Duration.ofNanos(firstAt.get() - started));
    log.info(
        "CDC drain of {}: {} events in {} ms ({} ms until the first), {} events/s, {} events/s"
            + " after the first",
        table,
        result.events(),
        result.elapsed().toMillis(),
        result.untilFirstEvent().toMillis(),
        Math.round(result.eventsPerSecond()),
        Math.round(result.eventsPerSecondAfterStart()));
    return result;
  }
}
