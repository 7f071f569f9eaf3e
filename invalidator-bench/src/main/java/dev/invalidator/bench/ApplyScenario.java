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
 * UNLINK}s of the same number of entries; each thread, worker or baseline, on a Redis connection of
 * its own, as the daemon's workers are.
 */
final class ApplyScenario {
  /** The daemon's default {@code nearCache.channels}: each applied event is also published. */
  static final int NEAR_CACHE_CHANNELS = 16;

  private ApplyScenario() {}

  /** Measured rounds after the warm-up round; the variants alternate A-B-A-B. */
  static final int ROUNDS = 2;

  static ScenarioResult run(BenchEnvironment env, BenchSettings s, PrintStream out)
      throws Exception {
    int n = s.applyEvents();
    int threads = s.workerThreads();
    // A warm-up round of a quarter of the events (JIT, connections), not counted: a single
    // round of a couple of seconds measured the baseline anywhere between 66,000 and 178,000
    // UNLINKs/s on the same machine, depending on what had run before it.
    long baselineNanos = 0;
    long workerNanos = 0;
    long baselineEvents = 0;
    WorkerRound total = new WorkerRound();
    for (int round = 0; round <= ROUNDS; round++) {
      int events = round == 0 ? Math.max(1, n / 4) : n;
      String label = round == 0 ? "warm-up" : "round " + round + "/" + ROUNDS;
      KeyScheme keys = env.keys("apply" + round);
      try {
        out.printf(
            "  %s: filling %,d entries, then pipelined UNLINKs (baseline)...%n", label, events);
        long b = unlinkRound(env, keys, events, threads, s);
        long leftByUnlinks = RedisFixtures.countEntries(env.connection(), keys, 0, events);
        out.printf(
            "  %s: filling %,d entries and publishing %,d events, then applying them with %d"
                + " worker threads...%n",
            label, events, events, threads);
        WorkerRound w = workerRound(env, keys, events, threads, s, out);
        w.leftByBaseline = leftByUnlinks;
        if (round > 0) {
          baselineNanos += b;
          baselineEvents += events;
          workerNanos += w.nanos;
          total.add(w);
        }
      } finally {
        env.deleteKeys(keys);
      }
    }
    double unlinkRate = baselineEvents * 1e9 / baselineNanos;
    double applyRate = (total.applied + total.skipped) * 1e9 / workerNanos;
    long leftByWorkers = total.leftByWorkers;
    long leftByBaseline = total.leftByBaseline;

    Map<String, Object> details = new LinkedHashMap<>();
    details.put("events", (long) n * ROUNDS);
    details.put("rounds", ROUNDS);
    details.put("workerThreads", threads);
    details.put("workerBatchSize", s.workerBatchSize());
    details.put("applied", total.applied);
    details.put("staleSkipped", total.skipped);
    details.put("failed", total.failed);
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
            + " the entry, prune the registry, near-cache message on the daemon's default "
            + NEAR_CACHE_CHANNELS
            + " channels), XACK; "
            + n
            + " events per round, each aggregate holding an entry; wall time until every event is"
            + " acked; "
            + ROUNDS
            + " rounds alternated with the baseline after a warm-up round of each",
        "pipelined UNLINKs of the same number of entries in batches of "
            + s.workerBatchSize()
            + ", a Lettuce connection per thread, "
            + threads
            + " threads",
        List.of(Figure.rate("invalidations/s vs UNLINKs/s", "events/s", applyRate, unlinkRate)),
        details);
  }

  /** Fills {@code n} entries, then unlinks them with pipelined UNLINKs; returns the nanos. */
  private static long unlinkRound(
      BenchEnvironment env, KeyScheme keys, int n, int threads, BenchSettings s) throws Exception {
    RedisFixtures.fillEntries(env.connection(), keys, 0, n);
    AtomicLong nextKey = new AtomicLong();
    // A connection per thread, as each of the daemon's workers applies on its own; connected
    // before the clock starts, as the workers' are.
    List<io.lettuce.core.api.StatefulRedisConnection<String, String>> own = new ArrayList<>();
    AtomicLong nextThread = new AtomicLong();
    try {
      for (int i = 0; i < threads; i++) {
        own.add(env.redis().connect());
      }
      long nanos =
          onThreads(
              threads,
              () -> {
                RedisAsyncCommands<String, String> async =
                    own.get((int) nextThread.getAndIncrement()).async();
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
      return nanos;
    } finally {
      for (AutoCloseable c : own) {
        c.close();
      }
    }
  }

  /**
   * Fills {@code n} entries, publishes one event for each, and applies them with {@code threads}
   * workers until every event is acked.
   */
  private static WorkerRound workerRound(
      BenchEnvironment env, KeyScheme keys, int n, int threads, BenchSettings s, PrintStream out)
      throws Exception {
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
    RedisDeadLetters deadLetters = new RedisDeadLetters(env.connection(), keys);
    InvalidationWorker.Options options =
        InvalidationWorker.Options.builder()
            .batchSize(s.workerBatchSize())
            .block(Duration.ofMillis(100))
            .build();
    List<RedisStreamSource> sources = new ArrayList<>();
    List<InvalidationWorker> workers = new ArrayList<>();
    List<AutoCloseable> closeAfter = new ArrayList<>();
    WorkerRound round = new WorkerRound();
    try {
      for (int i = 0; i < threads; i++) {
        RedisStreamSource source =
            RedisStreamSource.builder(env.redis(), keys).consumer("bench-w" + i).build();
        source.ensureGroup();
        sources.add(source);
        // The target on a connection of its own per worker, as the daemon wires it (Pipeline).
        var own = env.redis().connect();
        closeAfter.add(own);
        // With the daemon's defaults: near-cache messages on 16 channels.
        VersionGatedRedisTarget target =
            new VersionGatedRedisTarget(
                own,
                keys,
                Duration.ofMinutes(15),
                new VersionGatedRedisTarget.Options(
                    VersionGatedRedisTarget.Options.DEFAULT_TAG_BATCH_SIZE, NEAR_CACHE_CHANNELS));
        workers.add(
            new InvalidationWorker(
                source, List.of(target), deadLetters, options, listener, Clock.systemUTC()));
      }
      AtomicLong processed = new AtomicLong();
      AtomicLong index = new AtomicLong();
      Progress progress = Progress.every(out, 5000, "applied", n, processed::get);
      try {
        round.nanos =
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
      for (AutoCloseable c : closeAfter) {
        c.close();
      }
    }
    round.leftByWorkers = RedisFixtures.countEntries(env.connection(), keys, 0, n);
    round.applied = applied.sum();
    round.skipped = skipped.sum();
    round.failed = failed.sum();
    return round;
  }

  /** What one round of the workers did. */
  private static final class WorkerRound {
    long nanos;
    long applied;
    long skipped;
    long failed;
    long leftByWorkers;
    long leftByBaseline;

    void add(WorkerRound o) {
      applied += o.applied;
      skipped += o.skipped;
      failed += o.failed;
      leftByWorkers += o.leftByWorkers;
      leftByBaseline += o.leftByBaseline;
    }
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
