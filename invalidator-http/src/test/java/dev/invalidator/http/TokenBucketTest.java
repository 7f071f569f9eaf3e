package dev.invalidator.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TokenBucketTest {
  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));

  @Test
  void burstOfOneSecondThenOneTokenPerInterval() {
    TokenBucket bucket = new TokenBucket(2, clock);
    assertThat(bucket.tryTake()).isZero();
    assertThat(bucket.tryTake()).isZero();
    assertThat(bucket.tryTake()).isEqualTo(Duration.ofMillis(500));
    clock.advance(Duration.ofMillis(499));
    assertThat(bucket.tryTake()).isBetween(Duration.ofMillis(1), Duration.ofMillis(2));
    clock.advance(Duration.ofMillis(1));
    assertThat(bucket.tryTake()).isZero();
  }

  @Test
  void throttleSendsNothingUntilRetryAfterAndHalvesTheRate() {
    TokenBucket bucket = new TokenBucket(8, clock);
    bucket.throttle(Duration.ofSeconds(30));
    assertThat(bucket.rate()).isEqualTo(4.0);
    assertThat(bucket.pausedUntil()).isEqualTo(clock.instant().plusSeconds(30));
    assertThat(bucket.tryTake()).isEqualTo(Duration.ofSeconds(30));
    clock.advance(Duration.ofSeconds(30));
    // No token was earned while throttled: the first comes a quarter second (rate 4/s) after.
    assertThat(bucket.tryTake()).isEqualTo(Duration.ofMillis(250));
    clock.advance(Duration.ofMillis(250));
    assertThat(bucket.tryTake()).isZero();
  }

  @Test
  void repeatedThrottlesFloorAtOneSixteenthAndSuccessesRecover() {
    TokenBucket bucket = new TokenBucket(16, clock);
    for (int i = 0; i < 10; i++) {
      bucket.throttle(Duration.ZERO);
    }
    assertThat(bucket.rate()).isEqualTo(1.0);
    bucket.recover();
    assertThat(bucket.rate()).isEqualTo(2.0);
    for (int i = 0; i < 100; i++) {
      bucket.recover();
    }
    assertThat(bucket.rate()).isEqualTo(16.0);
  }

  @Test
  void acquireGivesUpWithoutWaitingPastItsBound() throws InterruptedException {
    TokenBucket bucket = new TokenBucket(1, clock);
    assertThat(bucket.acquire(Duration.ZERO)).isTrue();
    bucket.throttle(Duration.ofMinutes(1));
    long start = System.nanoTime();
    assertThat(bucket.acquire(Duration.ofMillis(50))).isFalse();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
  }

  @Test
  void retryAfterAcceptsSecondsAndHttpDates() {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    assertThat(HttpSender.parseRetryAfter("30", now)).contains(Duration.ofSeconds(30));
    assertThat(HttpSender.parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", now))
        .contains(Duration.ofMinutes(1));
    assertThat(HttpSender.parseRetryAfter("soon", now)).isEmpty();
    assertThat(HttpSender.parseCloudflareReset("\"default\";r=0;t=7"))
        .contains(Duration.ofSeconds(7));
    assertThat(HttpSender.parseCloudflareReset("\"default\";r=0")).isEmpty();
  }
}
