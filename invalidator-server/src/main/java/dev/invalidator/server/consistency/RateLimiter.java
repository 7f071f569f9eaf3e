package dev.invalidator.server.consistency;

import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * A token bucket of {@code perSecond} permits with a burst of one second's worth, on an injected
 * nanosecond clock. The observer only ever {@link #tryAcquire() tries} (a check that finds no token
 * is dropped and counted); {@code verify} waits.
 */
final class RateLimiter {
  private final double perSecond;
  private final double burst;
  private final LongSupplier nanoTime;
  private double tokens;
  private long last;

  RateLimiter(double perSecond, LongSupplier nanoTime) {
    if (!(perSecond > 0)) {
      throw new IllegalArgumentException("perSecond must be positive, got " + perSecond);
    }
    this.perSecond = perSecond;
    this.burst = Math.max(1.0, perSecond);
    this.nanoTime = nanoTime;
    this.last = nanoTime.getAsLong();
    this.tokens = burst;
  }

  /** Takes a permit if one is there. */
  synchronized boolean tryAcquire() {
    refill();
    if (tokens >= 1.0) {
      tokens -= 1.0;
      return true;
    }
    return false;
  }

  /** Waits for a permit; false when interrupted (the flag is restored). */
  boolean acquire() {
    while (!tryAcquire()) {
      LockSupport.parkNanos((long) (1_000_000_000L / perSecond / 2) + 1);
      if (Thread.currentThread().isInterrupted()) {
        return false;
      }
    }
    return true;
  }

  private void refill() {
    long now = nanoTime.getAsLong();
    tokens = Math.min(burst, tokens + (now - last) / 1e9 * perSecond);
    last = now;
  }
}
