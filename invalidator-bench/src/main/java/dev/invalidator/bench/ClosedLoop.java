package dev.invalidator.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Runs an operation in a closed loop on N threads for a while and records each call's latency.
 *
 * <p>A closed loop measures service time and throughput at saturation, which is what the write-path
 * and fill-path comparisons need (same client count, as fast as they go). Latency under a fixed
 * offered rate is the open-loop {@link CommitToApplyScenario}'s job.
 */
final class ClosedLoop {
  /** One call of the measured operation by client {@code client}. */
  @FunctionalInterface
  interface Op {
    void run(int client) throws Exception;
  }

  /** Latencies (ns) and the count and time they were measured over. */
  static final class Result {
    final Histogram nanos = new Histogram(3);
    long count;
    long elapsedNanos;

    void add(Histogram h, long n, long elapsed) {
      nanos.add(h);
      count += n;
      elapsedNanos += elapsed;
    }

    double perSecond() {
      return elapsedNanos == 0 ? 0 : count * 1e9 / elapsedNanos;
    }

    double p50Ms() {
      return nanos.getValueAtPercentile(50) / 1e6;
    }

    double p99Ms() {
      return nanos.getValueAtPercentile(99) / 1e6;
    }
  }

  private ClosedLoop() {}

  /**
   * Runs {@code op} on {@code threads} threads for {@code warmup} (not recorded) and then {@code
   * measure}, adding what it measured to {@code into}.
   */
  static void run(int threads, Duration warmup, Duration measure, Op op, Result into)
      throws Exception {
    Recorder recorder = new Recorder(3);
    LongAdder count = new LongAdder();
    AtomicBoolean recording = new AtomicBoolean(false);
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicReference<Exception> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(threads);
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      int client = i;
      Thread t =
          new Thread(
              () -> {
                try {
                  while (running.get()) {
                    long start = System.nanoTime();
                    op.run(client);
                    long took = System.nanoTime() - start;
                    if (recording.get()) {
                      recorder.recordValue(took);
                      count.increment();
                    }
                  }
                } catch (Exception ex) {
                  failure.compareAndSet(null, ex);
                  running.set(false);
                } finally {
                  done.countDown();
                }
              },
              "bench-client-" + i);
      t.setDaemon(true);
      workers.add(t);
    }
    workers.forEach(Thread::start);
    Thread.sleep(warmup.toMillis());
    recorder.reset();
    recording.set(true);
    long start = System.nanoTime();
    Thread.sleep(measure.toMillis());
    recording.set(false);
    long elapsed = System.nanoTime() - start;
    running.set(false);
    done.await();
    if (failure.get() != null) {
      throw failure.get();
    }
    into.add(recorder.getIntervalHistogram(), count.sum(), elapsed);
  }
}
