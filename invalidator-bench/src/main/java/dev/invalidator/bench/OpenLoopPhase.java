package dev.invalidator.bench;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;

/**
 * One rate phase of an open-loop schedule: the transactions whose end (apply, eviction) is still
 * awaited, keyed by what the end reports ({@code K}), and the counters of the measured window. The
 * latency scenarios extend it with their recorders.
 */
class OpenLoopPhase<K> {
  /** One scheduled transaction: its intended start, and when its commit returned (0: not yet). */
  static final class Pending {
    final long intended;
    volatile long committed;

    Pending(long intended) {
      this.intended = intended;
    }
  }

  final Map<K, Pending> pending = new ConcurrentHashMap<>();
  final LongAdder committedMeasured = new LongAdder();
  final LongAccumulator lastCommit = new LongAccumulator(Math::max, 0);
  volatile long measureFrom;
  volatile long notStarted;

  /** Counts a commit of the measured window (intended at or after {@link #measureFrom}). */
  void countCommit(long intended) {
    if (intended >= measureFrom) {
      committedMeasured.increment();
      lastCommit.accumulate(System.nanoTime());
    }
  }

  /** Commits per second in the measured window. */
  double achieved(Duration measured) {
    long last = lastCommit.get();
    double secs = last == 0 ? measured.toNanos() / 1e9 : (last - measureFrom) / 1e9;
    return secs <= 0 ? 0 : committedMeasured.sum() / secs;
  }

  /** Transactions an open-loop schedule at {@code rate} per second starts in {@code d}. */
  static long events(int rate, Duration d) {
    return (long) Math.ceil(rate * (d.toMillis() / 1000.0));
  }
}
