package dev.invalidator.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
  private final Backoff backoff = new Backoff(Duration.ofMillis(100), Duration.ofSeconds(5));

  @Test
  void ceilingDoublesUpToTheCap() {
    assertThat(backoff.ceiling(0)).isEqualTo(Duration.ofMillis(100));
    assertThat(backoff.ceiling(1)).isEqualTo(Duration.ofMillis(200));
    assertThat(backoff.ceiling(5)).isEqualTo(Duration.ofMillis(3200));
    assertThat(backoff.ceiling(6)).isEqualTo(Duration.ofSeconds(5));
    assertThat(backoff.ceiling(1000)).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void fullJitterSpreadsDelaysOverTheWholeRange() {
    long min = Long.MAX_VALUE;
    long max = 0;
    for (int i = 0; i < 2000; i++) {
      long d = backoff.delay(4).toMillis();
      assertThat(d).isBetween(0L, 1600L);
      min = Math.min(min, d);
      max = Math.max(max, d);
    }
    assertThat(min).isLessThan(200);
    assertThat(max).isGreaterThan(1400);
  }
}
