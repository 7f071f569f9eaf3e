package dev.invalidator.cli;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * The demo's oracle for stale reads: remembers, per aggregate, the newest committed version and
 * when each version was committed, so a read that returned an older version can be measured in
 * milliseconds of staleness (the time since the first newer version committed).
 */
final class FreshnessTracker {
  private static final int HISTORY = 64;

  private static final class Aggregate {
    final AtomicLong latest = new AtomicLong();
    final long[] commitNanos = new long[HISTORY];

    synchronized void committed(long version, long nanos) {
      commitNanos[(int) (version % HISTORY)] = nanos;
      latest.accumulateAndGet(version, Math::max);
    }

    synchronized long commitTime(long version) {
      return commitNanos[(int) (version % HISTORY)];
    }
  }

  private final ConcurrentMap<String, Aggregate> aggregates = new ConcurrentHashMap<>();
  private final LongAdder staleReads = new LongAdder();
  private final LongAccumulator maxStalenessNanos = new LongAccumulator(Math::max, 0);
  private final LongAccumulator intervalMaxStalenessNanos = new LongAccumulator(Math::max, 0);
  private final LongAdder intervalStaleReads = new LongAdder();

  void committed(String aggregate, long version, long nanos) {
    aggregates.computeIfAbsent(aggregate, k -> new Aggregate()).committed(version, nanos);
  }

  /** The newest version known committed when a read starts. */
  long latest(String aggregate) {
    Aggregate a = aggregates.get(aggregate);
    return a == null ? 0 : a.latest.get();
  }

  /**
   * Records a read that started when {@code expectedAtLeast} was committed and returned {@code
   * got}. Returns true when the read was stale.
   */
  boolean read(String aggregate, long expectedAtLeast, long got, long nowNanos) {
    if (got >= expectedAtLeast) {
      return false;
    }
    Aggregate a = aggregates.get(aggregate);
    long newerCommitted = a == null ? 0 : a.commitTime(got + 1);
    long staleness = newerCommitted == 0 ? 0 : Math.max(0, nowNanos - newerCommitted);
    staleReads.increment();
    intervalStaleReads.increment();
    maxStalenessNanos.accumulate(staleness);
    intervalMaxStalenessNanos.accumulate(staleness);
    return true;
  }

  long staleReads() {
    return staleReads.sum();
  }

  long maxStalenessMillis() {
    return maxStalenessNanos.get() / 1_000_000;
  }

  /** Stale reads and the worst staleness (ms) since the last call. */
  long[] takeInterval() {
    return new long[] {
      intervalStaleReads.sumThenReset(), intervalMaxStalenessNanos.getThenReset() / 1_000_000
    };
  }
}
