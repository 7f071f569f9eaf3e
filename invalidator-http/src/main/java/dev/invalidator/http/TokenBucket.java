package dev.invalidator.http;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The request budget of one target: a token bucket refilled at {@code rate} per second, holding at
 * most one second's worth (at least one token).
 *
 * <p>Design note. The provider's own limiter is the authority; this bucket keeps us under it and
 * backs off when told we were not. A 429 {@link #throttle throttles} the bucket: nothing is sent
 * before the advertised time, and the rate is halved (down to a sixteenth of the configured one);
 * each request that then succeeds {@link #recover recovers} a sixteenth of the configured rate
 * (additive increase, multiplicative decrease). A caller waits for a token only up to a bound and
 * otherwise fails its events as retryable, so a throttled target holds a worker thread for at most
 * that bound. Thread-safe; time comes from the injected {@link Clock}.
 */
final class TokenBucket {
  private final double configuredRate;
  private final Clock clock;
  private double rate;
  private double tokens;
  private Instant last;
  private Instant pausedUntil;

  TokenBucket(double ratePerSecond, Clock clock) {
    if (!(ratePerSecond > 0) || Double.isInfinite(ratePerSecond)) {
      throw new IllegalArgumentException(
          "rateLimit must be a positive number, got " + ratePerSecond);
    }
    this.configuredRate = ratePerSecond;
    this.rate = ratePerSecond;
    this.clock = clock;
    this.tokens = capacity();
    this.last = clock.instant();
    this.pausedUntil = Instant.MIN;
  }

  /**
   * Takes a token if one is there and returns zero; otherwise takes nothing and returns how long
   * until one may be (at least a millisecond).
   */
  synchronized Duration tryTake() {
    Instant now = clock.instant();
    refill(now);
    if (now.isBefore(pausedUntil)) {
      return atLeastOneMilli(Duration.between(now, pausedUntil));
    }
    if (tokens >= 1) {
      tokens -= 1;
      return Duration.ZERO;
    }
    return atLeastOneMilli(Duration.ofNanos((long) Math.ceil((1 - tokens) / rate * 1e9)));
  }

  /**
   * Waits for a token for at most {@code maxWait} in all; returns false when none came in time.
   *
   * @throws InterruptedException when interrupted while waiting (a shutdown)
   */
  boolean acquire(Duration maxWait) throws InterruptedException {
    long waitedNanos = 0;
    while (true) {
      Duration wait = tryTake();
      if (wait.isZero()) {
        return true;
      }
      if (waitedNanos + wait.toNanos() > maxWait.toNanos()) {
        return false;
      }
      Thread.sleep(wait.toMillis(), wait.toNanosPart() % 1_000_000);
      waitedNanos += wait.toNanos();
    }
  }

  /** The provider said 429: send nothing for {@code retryAfter}, and halve the rate. */
  synchronized void throttle(Duration retryAfter) {
    Instant now = clock.instant();
    refill(now);
    rate = Math.max(configuredRate / 16, rate / 2);
    tokens = Math.min(tokens, 0);
    Instant until = now.plus(retryAfter);
    if (until.isAfter(pausedUntil)) {
      pausedUntil = until;
    }
  }

  /** A request succeeded: raise the rate by a sixteenth of the configured one, up to it. */
  synchronized void recover() {
    refill(clock.instant());
    rate = Math.min(configuredRate, rate + configuredRate / 16);
  }

  /** The current refill rate, per second. */
  synchronized double rate() {
    return rate;
  }

  /** Nothing is sent before this instant ({@link Instant#MIN} when not throttled). */
  synchronized Instant pausedUntil() {
    return pausedUntil;
  }

  private double capacity() {
    return Math.max(1, configuredRate);
  }

  /** Adds the tokens earned since the last look, none of them while throttled. */
  private void refill(Instant now) {
    Instant from = last.isBefore(pausedUntil) ? pausedUntil : last;
    if (now.isAfter(from)) {
      double seconds = Duration.between(from, now).toNanos() / 1e9;
      tokens = Math.min(capacity(), tokens + seconds * rate);
    }
    if (now.isAfter(last)) {
      last = now;
    }
  }

  private static Duration atLeastOneMilli(Duration d) {
    return d.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : d;
  }
}
