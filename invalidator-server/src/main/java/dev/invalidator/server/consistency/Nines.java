package dev.invalidator.server.consistency;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * The arithmetic of the consistency figure: ratio = consistent / (consistent + inconsistent), nines
 * = -log10(1 - ratio). Unknown results (the row changed again before the check) are in neither.
 */
public final class Nines {
  private static final BigDecimal HUNDRED = BigDecimal.valueOf(100);

  private Nines() {}

  /** The ratio, or NaN when nothing was decided. */
  public static double ratio(long consistent, long inconsistent) {
    long decided = consistent + inconsistent;
    return decided == 0 ? Double.NaN : (double) consistent / decided;
  }

  /** Nines of a ratio: 0.99 is 2, 0.999 is 3; infinite at 1, NaN for NaN. */
  public static double nines(double ratio) {
    if (Double.isNaN(ratio)) {
      return Double.NaN;
    }
    if (ratio >= 1.0) {
      return Double.POSITIVE_INFINITY;
    }
    return 0.0 - Math.log10(1.0 - ratio); // 0.0 - x: never -0.0
  }

  /**
   * For people: {@code 99.99998% (6.7 nines)}, {@code 100%} when nothing was inconsistent, {@code
   * n/a} when nothing was decided. The percentage keeps enough digits to show the nines (it never
   * rounds a ratio below 1 up to 100%).
   */
  public static String format(long consistent, long inconsistent) {
    double ratio = ratio(consistent, inconsistent);
    if (Double.isNaN(ratio)) {
      return "n/a";
    }
    if (inconsistent == 0) {
      return "100%";
    }
    double nines = nines(ratio);
    int decimals = Math.max(0, Math.min(12, (int) Math.ceil(nines) - 1));
    double percent = ratio * 100;
    BigDecimal shown = BigDecimal.valueOf(percent).setScale(decimals, RoundingMode.HALF_EVEN);
    if (shown.compareTo(HUNDRED) >= 0) {
      shown = BigDecimal.valueOf(percent).setScale(decimals, RoundingMode.DOWN);
    }
    String text = shown.stripTrailingZeros().toPlainString();
    return text + "% (" + String.format(Locale.ROOT, "%.1f", nines) + " nines)";
  }
}
