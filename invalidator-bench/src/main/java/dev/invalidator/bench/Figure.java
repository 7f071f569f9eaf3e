package dev.invalidator.bench;

/**
 * One headline figure next to the baseline it is judged against, both measured in the same run.
 *
 * @param name what was measured, with its unit, such as {@code "commit latency p99 (ms)"}
 * @param unit the unit, such as {@code "ms"} or {@code "events/s"}
 * @param value the figure of Invalidator's path
 * @param baseline the same quantity on the baseline path
 * @param higherIsBetter whether a larger value is the better one (throughput) or not (latency)
 */
record Figure(String name, String unit, double value, double baseline, boolean higherIsBetter) {
  /** {@code value / baseline}; NaN when the baseline is zero. */
  public double ratio() {
    return baseline == 0 ? Double.NaN : value / baseline;
  }

  static Figure latency(String name, double valueMs, double baselineMs) {
    return new Figure(name, "ms", valueMs, baselineMs, false);
  }

  static Figure rate(String name, String unit, double value, double baseline) {
    return new Figure(name, unit, value, baseline, true);
  }
}
