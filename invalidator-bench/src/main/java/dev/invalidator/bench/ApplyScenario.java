package dev.invalidator.bench;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.VersionGatedRedisTarget;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scenario 3, apply throughput: {@code worker.threads} {@link InvalidationWorker}s consume a stream
 * of one event per aggregate (read with XREADGROUP, decode, {@code invalidate.lua} pipelined per
 * batch, XACK), every aggregate holding a cache entry to unlink, against plain pipelined {@code
 * UNLINK}s of the same number of entries through the same shared Redis connection.
 */
final class ApplyScenario {
  private ApplyScenario() {}

  static ScenarioResult run(BenchEnvironment env, BenchSettings s, PrintStream out)
      throws Exception {
    KeyScheme keys = env.keys("apply");
    int n = s.applyEvents();
    int threads = s.workerThreads();

    // Baseline: pipelined UNLINKs of n entries, batches of worker.batchSize, same thread count.
    out.printf("  baseline: filling %,d entries, then pipelined UNLINKs...%n", n);
    RedisFixtures.fillEntries(env.connection(), keys, 0, n);
    AtomicLong nextKey = new AtomicLong();
    long baselineNanos =
        onThreads(
            threads,
            () -> {
              RedisAsyncCommands<String, String> async = env.connection().async();
              List<RedisFuture<Long>> batch = new ArrayList<>(s.workerBatchSize());
              while (true) {
                long from = nextKey.getAndAdd(s.workerBatchSize());
                if (from >= n) {
                  return;
                }
                long to = Math.min(n, from + s.workerBatchSize());
                for (long i = from; i < to; i++) {
                  batch.add(
                      async.unlink(keys.entry(RedisFixtures.aggregate(i), RedisFixtures.VIEW)));
                }
                RedisFixtures.awaitAll(batch);
              }
            });
    long leftByBaseline = RedisFixtures.countEntries(env.connection(), keys, 0, n);
    double unlinkRate = n * 1e9 / baselineNanos;

    // Subject: the worker loop over a stream of n events.
    out.printf("  filling %,d entries and publishing %,d events...%n", n, n);
    RedisFixtures.fillEntries(env.connection(), keys, 0, n);
    RedisFixtures.publishEvents(env.connection(), keys, n);
    LongAdder applied = new LongAdder();
    LongAdder skipped = new LongAdder();
    LongAdder failed = new LongAdder();
    WorkerListener listener =
        new WorkerListener() {
          @Override
          public void applied(
              String target,
              InvalidationEvent event,
              ApplyResult result,
              Instant committedAt,
              Instant appliedAt) {
            if (result.status() == ApplyResult.Status.APPLIED) {
              applied.increment();
            } else {
              skipped.increment();
            }
          }

          @Override
          public void failed(
              String target, dev.invalidator.core.Delivery delivery, RuntimeException error) {
            failed.increment();
          }
        };
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(env.connection(), keys, Duration.ofMinutes(15));
    RedisDeadLetters deadLetters = new RedisDeadLetters(env.connection(), keys);
    InvalidationWorker.Options options =
        InvalidationWorker.Options.builder()
            .batchSize(s.workerBatchSize())
            .block(Duration.ofMillis(100))
            .build();
    List<RedisStreamSource> sources = new ArrayList<>();
    List<InvalidationWorker> workers = new ArrayList<>();
    long workerNanos;
    try {
      for (int i = 0; i < threads; i++) {
        RedisStreamSource source =
            RedisStreamSource.builder(env.redis(), keys).consumer("bench-w" + i).build();
        source.ensureGroup();
        sources.add(source);
        workers.add(
            new InvalidationWorker(
                source, List.of(target), deadLetters, options, listener, Clock.systemUTC()));
      }
      AtomicLong processed = new AtomicLong();
      AtomicLong index = new AtomicLong();
      out.printf("  applying %,d events with %d worker threads...%n", n, threads);
      Progress progress = Progress.every(out, 5000, "applied", n, processed::get);
      try {
        workerNanos =
            onThreads(
                threads,
                () -> {
                  InvalidationWorker w = workers.get((int) index.getAndIncrement());
                  long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
                  while (processed.get() < n && System.nanoTime() < deadline) {
                    processed.addAndGet(w.runOnce());
                  }
                });
      } finally {
        progress.close();
      }
    } finally {
      for (RedisStreamSource src : sources) {
        src.close();
      }
    }
    long leftByWorkers = RedisFixtures.countEntries(env.connection(), keys, 0, n);
    double applyRate = (applied.sum() + skipped.sum()) * 1e9 / workerNanos;
    env.deleteKeys(keys);

    Map<String, Object> details = new LinkedHashMap<>();
    details.put("events", n);
    details.put("workerThreads", threads);
    details.put("workerBatchSize", s.workerBatchSize());
    details.put("applied", applied.sum());
    details.put("staleSkipped", skipped.sum());
    details.put("failed", failed.sum());
    details.put("entriesLeftAfterWorkers", leftByWorkers);
    details.put("entriesLeftAfterUnlinks", leftByBaseline);
    details.put("workerSeconds", workerNanos / 1e9);
    details.put("unlinkSeconds", baselineNanos / 1e9);
    return new ScenarioResult(
        "apply",
        "3. apply throughput",
        "invalidations/s through "
            + threads
            + " InvalidationWorker threads: XREADGROUP (batch "
            + s.workerBatchSize()
            + "), decode and validate, one invalidate.lua call per batch (per event: fence, unlink"
            + " the entry, prune the registry), XACK; "
            + n
            + " events, each aggregate holding an entry; wall time until every event is acked",
        "pipelined UNLINKs of the same number of entries in batches of "
            + s.workerBatchSize()
            + " on the same shared Lettuce connection, "
            + threads
            + " threads",
        List.of(Figure.rate("invalidations/s vs UNLINKs/s", "events/s", applyRate, unlinkRate)),
        details);
  }

  /** Runs {@code body} on {@code threads} threads and returns the wall time until all finish. */
  static long onThreads(int threads, Body body) throws Exception {
    AtomicReference<Exception> failure = new AtomicReference<>();
    List<Thread> list = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Thread t =
          new Thread(
              () -> {
                try {
                  body.run();
                } catch (InterruptedException ex) {
                  Thread.currentThread().interrupt();
                } catch (Exception ex) {
                  failure.compareAndSet(null, ex);
                }
              },
              "bench-thread-" + i);
      t.setDaemon(true);
      list.add(t);
    }
    long start = System.nanoTime();
    list.forEach(Thread::start);
    for (Thread t : list) {
      t.join();
    }
    long elapsed = System.nanoTime() - start;
    if (failure.get() != null) {
      throw failure.get();
    }
    return elapsed;
  }

  @FunctionalInterface
  interface Body {
    void run() throws Exception;
  }
}
