package dev.invalidator.server.consistency;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class NinesTest {
  @Test
  void ratioIsConsistentOverDecidedAndNaNWithoutChecks() {
    assertThat(Nines.ratio(999, 1)).isEqualTo(0.999);
    assertThat(Nines.ratio(5, 0)).isEqualTo(1.0);
    assertThat(Nines.ratio(0, 0)).isNaN();
  }

  @Test
  void ninesAreMinusLog10OfTheInconsistentShare() {
    assertThat(Nines.nines(0.9)).isCloseTo(1.0, within(1e-9));
    assertThat(Nines.nines(0.99)).isCloseTo(2.0, within(1e-9));
    assertThat(Nines.nines(0.999)).isCloseTo(3.0, within(1e-9));
    assertThat(Nines.nines(0.0)).isEqualTo(0.0);
    assertThat(Nines.nines(1.0)).isInfinite();
    assertThat(Nines.nines(Double.NaN)).isNaN();
  }

  @Test
  void formatShowsEnoughDigitsForTheNinesAndNeverRoundsUpToAHundred() {
    // one inconsistent check in 5,000,000: 99.99998%, 6.7 nines (the example)
    assertThat(Nines.format(4_999_999, 1)).isEqualTo("99.99998% (6.7 nines)");
    assertThat(Nines.format(999, 1)).isEqualTo("99.9% (3.0 nines)");
    assertThat(Nines.format(1, 1)).isEqualTo("50% (0.3 nines)");
    assertThat(Nines.format(10, 0)).isEqualTo("100%");
    assertThat(Nines.format(0, 0)).isEqualTo("n/a");
    assertThat(Nines.format(0, 3)).isEqualTo("0% (0.0 nines)");
    assertThat(Nines.format(999_999_999, 1)).startsWith("99.9999999").doesNotContain("100%");
  }
}
