package dev.invalidator.bench;

/**
 * Commit-to-apply latency at one offered rate, in milliseconds, corrected for coordinated omission
 * (measured from the intended start of each transaction in an open-loop schedule).
 *
 * @param offeredRate transactions per second the schedule asked for
 * @param achievedRate transactions per second actually committed in the measured window
 * @param count events measured
 * @param p50 median
 * @param p90 90th percentile
 * @param p99 99th percentile
 * @param p999 99.9th percentile
 * @param max largest
 */
record LatencyPoint(
    int offeredRate,
    double achievedRate,
    long count,
    double p50,
    double p90,
    double p99,
    double p999,
    double max) {
  static LatencyPoint of(int offered, double achieved, org.HdrHistogram.Histogram nanos) {
    return new LatencyPoint(
        offered,
        achieved,
        nanos.getTotalCount(),
        ms(nanos.getValueAtPercentile(50)),
        ms(nanos.getValueAtPercentile(90)),
        ms(nanos.getValueAtPercentile(99)),
        ms(nanos.getValueAtPercentile(99.9)),
        ms(nanos.getMaxValue()));
  }

  static double ms(long nanos) {
    return nanos / 1_000_000.0;
  }
}
