package dev.invalidator.bench;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.outbox.PollingRelay;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamPublisher;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.VersionGatedRedisTarget;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Scenario 4, commit-to-apply latency at fixed offered rates.
 *
 * <p>Design notes. An open-loop schedule fixes the intended start of transaction {@code i} at
 * {@code start + i / rate}; writer threads take the next index, wait for its time and run the
 * business transaction (UPDATE the account row, {@link OutboxWriter#append}, COMMIT). Latency is
 * measured from that intended start, not from when a writer got round to it, so a stall anywhere
 * (database, relay, worker) counts against every transaction it delayed: the coordinated-omission
 * correction. It ends when the worker's apply of the event returned from Redis, observed in the
 * same JVM through {@link WorkerListener#applied}, which the worker calls after every reply of the
 * batch's {@code invalidate.lua} calls arrived: the entry is gone from Redis by then (the figure is
 * an upper bound, late by at most the rest of its batch's replies). Every transaction touches a
 * different aggregate that holds a cache entry, and after each rate the entries are counted: all
 * must be gone.
 *
 * <p>The baseline holds the same rate with the same schedule and writers, for a cache-aside
 * application that deletes the entry itself after commit (UPDATE, COMMIT, then UNLINK through the
 * shared Redis connection; measured from the intended start to the UNLINK reply): the fastest
 * invalidation there is, with none of the outbox's guarantees (a crash between COMMIT and UNLINK
 * leaves the entry stale forever).
 */
final class CommitToApplyScenario {
  private CommitToApplyScenario() {}

  /** The latency points measured, for the chart. */
  record Curves(List<LatencyPoint> pipeline, List<LatencyPoint> baseline) {}

  /** One rate phase's recorders and counters. */
  private static final class Phase extends OpenLoopPhase<UUID> {
    final Recorder corrected = new Recorder(3);
    final Recorder fromCommit = new Recorder(3);
  }

  static ScenarioResult run(
      BenchEnvironment env, BenchSettings s, PrintStream out, List<Curves> curvesOut)
      throws Exception {
    long maxEvents = 0;
    for (int rate : s.rates()) {
      maxEvents =
          Math.max(maxEvents, OpenLoopPhase.events(rate, s.rateWarmup().plus(s.rateDuration())));
      maxEvents =
          Math.max(
              maxEvents, OpenLoopPhase.events(rate, s.rateWarmup().plus(s.baselineRateDuration())));
    }
    out.printf("  creating %,d account rows...%n", maxEvents);
    String accounts = env.accounts("lat_accounts", (int) maxEvents);
    OutboxTable outbox = env.outbox("lat_outbox");
    KeyScheme keys = env.keys("lat");
    OutboxWriter writer = OutboxWriter.create(outbox);

    AtomicReference<Phase> phase = new AtomicReference<>(new Phase());
    WorkerListener listener =
        new WorkerListener() {
          @Override
          public void applied(
              String target,
              InvalidationEvent event,
              ApplyResult result,
              Instant committedAt,
              Instant appliedAt) {
            long now = System.nanoTime();
            Phase ph = phase.get();
            OpenLoopPhase.Pending p = ph.pending.remove(event.eventId());
            if (p == null || p.intended < ph.measureFrom) {
              return;
            }
            ph.corrected.recordValue(Math.max(0, now - p.intended));
            long committed = p.committed;
            if (committed > 0) {
              ph.fromCommit.recordValue(Math.max(0, now - committed));
            }
          }
        };

    PollingRelay relay =
        PollingRelay.builder(
                env.dataSource(),
                outbox,
                new RedisStreamPublisher(env.connection(), keys, Clock.systemUTC()))
            .batchSize(s.relayBatchSize())
            .build();
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(env.connection(), keys, Duration.ofMinutes(15));
    RedisDeadLetters deadLetters = new RedisDeadLetters(env.connection(), keys);
    List<RedisStreamSource> sources = new ArrayList<>();
    List<InvalidationWorker> workers = new ArrayList<>();
    List<Thread> loops = new ArrayList<>();
    List<Connection> connections = new ArrayList<>();
    List<LatencyPoint> pipelinePoints = new ArrayList<>();
    List<LatencyPoint> baselinePoints = new ArrayList<>();
    List<Map<String, Object>> perRate = new ArrayList<>();
    List<Figure> figures = new ArrayList<>();
    try {
      for (int i = 0; i < s.workerThreads(); i++) {
        RedisStreamSource source =
            RedisStreamSource.builder(env.redis(), keys).consumer("bench-lat-w" + i).build();
        source.ensureGroup();
        sources.add(source);
        InvalidationWorker w =
            new InvalidationWorker(
                source,
                List.of(target),
                deadLetters,
                InvalidationWorker.Options.builder().batchSize(s.workerBatchSize()).build(),
                listener,
                Clock.systemUTC());
        workers.add(w);
        loops.add(new Thread(w, "bench-worker-" + i));
      }
      loops.add(new Thread(relay, "bench-relay"));
      loops.forEach(Thread::start);
      for (int i = 0; i < s.latencyWriters(); i++) {
        Connection c = env.connect();
        c.setAutoCommit(false);
        connections.add(c);
      }
      String update =
          "UPDATE "
              + accounts
              + " SET balance = balance + 1, version = version + 1 WHERE id = ?"
              + " RETURNING version";
      RedisCommands<String, String> redis = env.connection().sync();
      for (int rate : s.rates()) {
        // Baseline: delete-after-commit in the writer.
        long nb = OpenLoopPhase.events(rate, s.rateWarmup().plus(s.baselineRateDuration()));
        RedisFixtures.fillEntries(env.connection(), keys, 0, nb);
        out.printf(
            "  %,d/s baseline (UPDATE, COMMIT, UNLINK in the writer) for %d s...%n",
            rate, s.baselineRateDuration().toSeconds());
        Phase base = new Phase();
        schedule(
            connections,
            update,
            rate,
            nb,
            s.rateWarmup(),
            base,
            out,
            (c, id, version, p) -> {
              c.commit();
              p.committed = System.nanoTime();
              redis.unlink(keys.entry(RedisFixtures.aggregate(id), RedisFixtures.VIEW));
              if (p.intended >= base.measureFrom) {
                base.corrected.recordValue(Math.max(0, System.nanoTime() - p.intended));
              }
            });
        Histogram baseHist = base.corrected.getIntervalHistogram();
        LatencyPoint bp = LatencyPoint.of(rate, base.achieved(s.baselineRateDuration()), baseHist);
        baselinePoints.add(bp);

        // The pipeline: UPDATE + outbox insert + COMMIT; relay and workers invalidate.
        long n = OpenLoopPhase.events(rate, s.rateWarmup().plus(s.rateDuration()));
        RedisFixtures.fillEntries(env.connection(), keys, 0, n);
        out.printf(
            "  %,d/s through the pipeline for %d s (+%d ms warm-up)...%n",
            rate, s.rateDuration().toSeconds(), s.rateWarmup().toMillis());
        Phase ph = new Phase();
        phase.set(ph);
        schedule(
            connections,
            update,
            rate,
            n,
            s.rateWarmup(),
            ph,
            out,
            (c, id, version, p) -> {
              UUID eventId = UUID.randomUUID();
              writer.append(
                  c,
                  InvalidationEvent.builder()
                      .eventId(eventId)
                      .aggregate(RedisFixtures.aggregate(id))
                      .version(version)
                      .build());
              ph.pending.put(eventId, p);
              c.commit();
              p.committed = System.nanoTime();
            });
        long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!ph.pending.isEmpty() && System.nanoTime() < waitUntil) {
          Thread.sleep(20);
        }
        long unapplied = ph.pending.size();
        // Entries of aggregates whose transaction ran must all be gone.
        long left = RedisFixtures.countEntries(env.connection(), keys, 0, n - ph.notStarted);
        Histogram hist = ph.corrected.getIntervalHistogram();
        Histogram fromCommit = ph.fromCommit.getIntervalHistogram();
        LatencyPoint pp = LatencyPoint.of(rate, ph.achieved(s.rateDuration()), hist);
        pipelinePoints.add(pp);
        out.printf(
            "  %,d/s: achieved %,.0f/s, commit->apply p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms,"
                + " max %.2f ms (baseline p99 %.2f ms); entries left %d, unapplied %d%n",
            rate,
            pp.achievedRate(),
            pp.p50(),
            pp.p99(),
            pp.p999(),
            pp.max(),
            bp.p99(),
            left,
            unapplied,
            ph.notStarted);
        if (pp.count() > 0) {
          figures.add(
              Figure.latency("commit->apply p50 @ " + rate + "/s (ms)", pp.p50(), bp.p50()));
          figures.add(
              Figure.latency("commit->apply p99 @ " + rate + "/s (ms)", pp.p99(), bp.p99()));
        } else {
          out.printf("  %,d/s: NO event was applied within the window: no percentiles%n", rate);
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("offeredRate", rate);
        r.put("pipeline", pp);
        r.put("baseline", bp);
        r.put("fromCommitReturnP50Ms", LatencyPoint.ms(fromCommit.getValueAtPercentile(50)));
        r.put("fromCommitReturnP99Ms", LatencyPoint.ms(fromCommit.getValueAtPercentile(99)));
        r.put("fromCommitReturnMaxMs", LatencyPoint.ms(fromCommit.getMaxValue()));
        r.put("entriesLeftAfterDrain", left);
        r.put("eventsUnappliedAfter30s", unapplied);
        r.put("notStartedByWindowEnd", ph.notStarted);
        r.put("baselineNotStartedByWindowEnd", base.notStarted);
        perRate.add(r);
        phase.set(new Phase());
      }
    } finally {
      relay.stop();
      workers.forEach(InvalidationWorker::stop);
      for (Thread t : loops) {
        t.join(10_000);
      }
      for (RedisStreamSource src : sources) {
        src.close();
      }
      for (Connection c : connections) {
        c.close();
      }
      env.deleteKeys(keys);
    }
    curvesOut.add(new Curves(pipelinePoints, baselinePoints));
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("writers", s.latencyWriters());
    details.put("workerThreads", s.workerThreads());
    details.put("secondsPerRate", s.rateDuration().toSeconds());
    details.put("baselineSecondsPerRate", s.baselineRateDuration().toSeconds());
    details.put("warmupMs", s.rateWarmup().toMillis());
    details.put("rates", perRate);
    return new ScenarioResult(
        "latency",
        "4. commit-to-apply latency",
        "open-loop schedule at a fixed offered rate, "
            + s.latencyWriters()
            + " writer connections; per transaction: UPDATE one account row + outbox insert +"
            + " COMMIT; latency from the transaction's intended start (coordinated-omission"
            + " corrected) to the worker's WorkerListener.applied callback, which runs after"
            + " invalidate.lua's reply for the event's batch arrived (the entry is gone from Redis"
            + " by then); LISTEN/NOTIFY relay, "
            + s.workerThreads()
            + " worker threads; every event on its own aggregate holding a cache entry",
        "same schedule and writers, cache-aside delete-after-commit: UPDATE, COMMIT, then UNLINK"
            + " the entry in the writer thread; from the intended start to the UNLINK reply",
        figures,
        details);
  }

  @FunctionalInterface
  private interface Tail {
    void run(Connection c, int id, long version, OpenLoopPhase.Pending p) throws Exception;
  }

  /** Runs {@code n} transactions on the open-loop schedule; returns when all are committed. */
  private static void schedule(
      List<Connection> connections,
      String update,
      int rate,
      long n,
      Duration warmup,
      Phase ph,
      PrintStream out,
      Tail tail)
      throws Exception {
    AtomicLong next = new AtomicLong();
    AtomicInteger slot = new AtomicInteger();
    double interval = 1e9 / rate;
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    ph.measureFrom = start + warmup.toNanos();
    // The window ends at the last intended start: transactions still unstarted then (the rate was
    // beyond capacity) are counted, not run, so an overloaded phase cannot run for ever.
    long windowEnd = start + (long) (n * interval);
    AtomicLong issued = new AtomicLong();
    Progress progress = Progress.every(out, 10_000, "committed", n, next::get);
    try {
      ApplyScenario.onThreads(
          connections.size(),
          () -> {
            Connection c = connections.get(slot.getAndIncrement());
            try (PreparedStatement ps = c.prepareStatement(update)) {
              while (true) {
                if (System.nanoTime() > windowEnd) {
                  return;
                }
                long i = next.getAndIncrement();
                if (i >= n) {
                  return;
                }
                issued.incrementAndGet();
                long intended = start + (long) (i * interval);
                long wait;
                while ((wait = intended - System.nanoTime()) > 0) {
                  LockSupport.parkNanos(wait);
                }
                OpenLoopPhase.Pending pending = new OpenLoopPhase.Pending(intended);
                ps.setInt(1, (int) i);
                long version;
                try (ResultSet rs = ps.executeQuery()) {
                  rs.next();
                  version = rs.getLong(1);
                }
                tail.run(c, (int) i, version, pending);
                ph.countCommit(intended);
              }
            }
          });
    } finally {
      progress.close();
    }
    ph.notStarted = n - issued.get();
  }
}
