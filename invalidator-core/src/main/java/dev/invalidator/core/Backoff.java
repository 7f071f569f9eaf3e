package dev.invalidator.core;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with full jitter: the delay before attempt {@code n} is uniform in {@code [0,
 * min(max, initial * 2^n))}, which spreads retries of many workers instead of synchronising them.
 */
public record Backoff(Duration initial, Duration max) {
  public static final Backoff DEFAULT = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(10));

  public Backoff {
    if (initial == null || initial.isNegative() || initial.isZero()) {
      throw new IllegalArgumentException("backoff initial must be positive");
    }
    if (max == null || max.compareTo(initial) < 0) {
      throw new IllegalArgumentException("backoff max must be >= initial");
    }
  }

  /** The ceiling of the delay before retry {@code attempt} (0-based), without jitter. */
  public Duration ceiling(int attempt) {
    int shift = Math.min(Math.max(attempt, 0), 30);
    long ms = initial.toMillis() << shift;
    return ms <= 0 || ms > max.toMillis() ? max : Duration.ofMillis(ms);
  }

  /**
   * A jittered delay before retry {@code attempt} that is the same every time it is asked for the
   * same {@code seed}: a retry scheduler that looks at a pending entry repeatedly (from several
   * processes, after a crash) sees one stable due time per attempt, still spread uniformly over
   * {@code [0, ceiling(attempt)]} across entries.
   */
  public Duration delay(int attempt, long seed) {
    long ceiling = ceiling(attempt).toMillis();
    long mixed = new java.util.SplittableRandom(seed * 31 + attempt).nextLong(ceiling + 1);
    return Duration.ofMillis(mixed);
  }

  /** A jittered delay before retry {@code attempt}. */
  public Duration delay(int attempt) {
    long ceiling = ceiling(attempt).toMillis();
    return Duration.ofMillis(ThreadLocalRandom.current().nextLong(ceiling + 1));
  }
}
