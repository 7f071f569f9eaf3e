package dev.invalidator.cli;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.redis.VersionGatedRedisTarget;
import java.time.Instant;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Counts what the Redis target's workers did and records commit-to-apply latency, per interval and
 * overall; the CDN target (in its own consumer group) is counted by the fake CDN instead.
 */
final class DemoMetrics implements WorkerListener {
  final LongAdder applied = new LongAdder();
  final LongAdder staleSkipped = new LongAdder();
  final LongAdder failed = new LongAdder();
  final LongAdder deadLettered = new LongAdder();
  private final Recorder commitToApplyMicros = new Recorder(3);
  private final Histogram total = new Histogram(3);
  private Histogram interval;

  @Override
  public void applied(
      String target,
      InvalidationEvent event,
      ApplyResult result,
      Instant committedAt,
      Instant appliedAt) {
    if (!VersionGatedRedisTarget.NAME.equals(target)) {
      return;
    }
    if (result.status() == ApplyResult.Status.APPLIED) {
      applied.increment();
    } else {
      staleSkipped.increment();
    }
    if (committedAt != null) {
      long micros = Math.max(0, (appliedAt.toEpochMilli() - committedAt.toEpochMilli()) * 1000);
      commitToApplyMicros.recordValue(micros);
    }
  }

  @Override
  public void failed(
      String target, dev.invalidator.core.Delivery delivery, RuntimeException error) {
    if (!VersionGatedRedisTarget.NAME.equals(target)) {
      return;
    }
    failed.increment();
  }

  @Override
  public void deadLettered(dev.invalidator.core.DeadLetter deadLetter) {
    deadLettered.increment();
  }

  /** The commit-to-apply histogram since the last call (also added to the total). */
  synchronized Histogram takeInterval() {
    interval = commitToApplyMicros.getIntervalHistogram(interval);
    total.add(interval);
    return interval;
  }

  synchronized Histogram total() {
    takeInterval();
    return total;
  }
}
