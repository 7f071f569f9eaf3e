package dev.invalidator.bench;

import java.io.PrintStream;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/** Prints a progress line every few seconds while a long phase runs. */
final class Progress implements AutoCloseable {
  private final ScheduledExecutorService timer;

  private Progress(PrintStream out, String what, long total, LongSupplier done, long periodMs) {
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "bench-progress");
              t.setDaemon(true);
              return t;
            });
    long start = System.nanoTime();
    timer.scheduleAtFixedRate(
        () -> {
          long n = done.getAsLong();
          double secs = (System.nanoTime() - start) / 1e9;
          out.printf(
              "  ... %s: %,d%s after %.0f s (%,.0f/s)%n",
              what, n, total > 0 ? " of " + String.format("%,d", total) : "", secs, n / secs);
        },
        periodMs,
        periodMs,
        TimeUnit.MILLISECONDS);
  }

  /** Starts printing {@code what: done of total} every {@code periodMs}. */
  static Progress every(
      PrintStream out, long periodMs, String what, long total, LongSupplier done) {
    return new Progress(out, what, total, done, periodMs);
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
