package dev.invalidator.server.consistency;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ConsistencyWindowTest {
  @Test
  void countsSlideOutAfterTheWindowPerGraceAndSeries() {
    ConsistencyWindow w = new ConsistencyWindow(2, 10);
    w.record(100, "acme", 0, Verdict.CONSISTENT);
    w.record(100, "acme", 0, Verdict.INCONSISTENT);
    w.record(105, "other", 0, Verdict.CONSISTENT);
    w.record(105, "acme", 1, Verdict.UNKNOWN);

    assertThat(w.counts(105, null, 0)).containsExactly(2, 1, 0);
    assertThat(w.counts(105, "acme", 0)).containsExactly(1, 1, 0);
    assertThat(w.counts(105, "acme", 1)).containsExactly(0, 0, 1);
    // second 100 leaves the 10 s window at second 110
    assertThat(w.counts(109, null, 0)).containsExactly(2, 1, 0);
    assertThat(w.counts(110, null, 0)).containsExactly(1, 0, 0);
    assertThat(w.counts(200, null, 0)).containsExactly(0, 0, 0);
  }

  @Test
  void cachedCountsAgreeWithExactCountsAndRefreshEachSecond() {
    ConsistencyWindow w = new ConsistencyWindow(1, 10);
    w.record(100, "acme", 0, Verdict.CONSISTENT);
    w.record(100, "other", 0, Verdict.INCONSISTENT);

    assertThat(w.cachedCounts(100, null, 0)).containsExactly(w.counts(100, null, 0));
    assertThat(w.cachedCounts(100, "acme", 0)).containsExactly(1, 0, 0);
    assertThat(w.cachedCounts(100, "globex", 0)).containsExactly(0, 0, 0);
    w.record(100, "acme", 0, Verdict.CONSISTENT);
    assertThat(w.cachedCounts(100, "acme", 0))
        .as("cached within the second")
        .containsExactly(1, 0, 0);
    assertThat(w.cachedCounts(101, "acme", 0)).containsExactly(2, 0, 0);
    assertThat(w.cachedCounts(111, null, 0)).containsExactly(0, 0, 0);
  }
}
