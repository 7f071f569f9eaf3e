package dev.invalidator.server.consistency;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;

/**
 * Verdict counts per grace period and tenant series over a sliding window of whole seconds.
 *
 * <p>Design note: one bucket per second holding, per series, {@code [grace][verdict]} counts,
 * allocated only for the series that had checks in that second; buckets older than the window are
 * dropped on every write and read. All methods are synchronized: a write is a few array increments,
 * a read sums at most window-seconds buckets, both far below the check's own I/O.
 */
final class ConsistencyWindow {
  private final int graces;
  private final long windowSeconds;
  private final Deque<Bucket> buckets = new ArrayDeque<>();
  private long snapshotSecond = Long.MIN_VALUE;
  private Map<String, long[]> snapshot = Map.of();

  private record Bucket(long second, Map<String, long[]> counts) {}

  /** The key of the every-series sums in the snapshot; no tenant can be named so (G5 rules). */
  private static final String ALL = "\u0000all";

  ConsistencyWindow(int graces, long windowSeconds) {
    this.graces = graces;
    this.windowSeconds = windowSeconds;
  }

  synchronized void record(long epochSecond, String series, int grace, Verdict verdict) {
    expire(epochSecond);
    Bucket last = buckets.peekLast();
    // after a clock step back the newest bucket takes the count rather than losing it
    if (last == null || last.second() < epochSecond) {
      last = new Bucket(epochSecond, new HashMap<>());
      buckets.addLast(last);
    }
    last.counts()
            .computeIfAbsent(series, s -> new long[graces * Verdict.values().length])[
            grace * Verdict.values().length + verdict.ordinal()] +=
        1;
  }

  /** Counts of {@code series} (null: every series) for {@code grace} over the window. */
  synchronized long[] counts(long epochSecond, String series, int grace) {
    expire(epochSecond);
    long[] out = new long[Verdict.values().length];
    for (Bucket b : buckets) {
      for (Map.Entry<String, long[]> e : b.counts().entrySet()) {
        if (series == null || series.equals(e.getKey())) {
          for (int v = 0; v < out.length; v++) {
            out[v] += e.getValue()[grace * out.length + v];
          }
        }
      }
    }
    return out;
  }

  /**
   * Counts of {@code series} (null: every series) for {@code grace}, from a summary of the window
   * computed at most once a second: what the gauges read, so a scrape of many tenant series costs
   * one pass over the buckets, not one per series.
   */
  synchronized long[] cachedCounts(long epochSecond, String series, int grace) {
    if (epochSecond != snapshotSecond) {
      expire(epochSecond);
      Map<String, long[]> next = new HashMap<>();
      int width = graces * Verdict.values().length;
      long[] all = new long[width];
      for (Bucket b : buckets) {
        for (Map.Entry<String, long[]> e : b.counts().entrySet()) {
          long[] sum = next.computeIfAbsent(e.getKey(), k -> new long[width]);
          for (int i = 0; i < width; i++) {
            sum[i] += e.getValue()[i];
            all[i] += e.getValue()[i];
          }
        }
      }
      next.put(ALL, all);
      snapshot = next;
      snapshotSecond = epochSecond;
    }
    long[] sums = snapshot.get(series == null ? ALL : series);
    long[] out = new long[Verdict.values().length];
    if (sums != null) {
      System.arraycopy(sums, grace * out.length, out, 0, out.length);
    }
    return out;
  }

  private void expire(long now) {
    while (!buckets.isEmpty() && buckets.peekFirst().second() <= now - windowSeconds) {
      buckets.removeFirst();
    }
  }
}
