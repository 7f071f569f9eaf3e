package dev.invalidator.bench;

import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.StreamStats;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Scenario 6, freshness under sustained load, measured as a user runs Invalidator: the daemon is a
 * separate process started like {@code invalidator run} with its default settings, the writers are
 * this process, and the entry's disappearance is observed in Redis itself.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li>The daemon runs as {@code java <DaemonJvm.OPTIONS> -cp <this class path>
 *       dev.invalidator.server.Main run --postgres-url ... --redis-url ...}, the JVM options the
 *       launcher gives {@code ./invalidator run}; only the run's table, key prefix and a free admin
 *       port are set (through {@code INVALIDATOR_*} variables), every other setting is the default.
 *       Its output goes to {@code <json>.daemon.log}.
 *   <li>Writers: {@code writers} connections in auto-commit, one plain-SQL outbox {@code INSERT}
 *       per transaction (the README's contract), each for its own aggregate that holds a cache
 *       entry, on an open-loop schedule at the offered rate.
 *   <li>Latency runs from the moment the writer's commit returned to the moment Redis reported the
 *       entry deleted (keyspace notification {@code del}, which {@code UNLINK} inside {@code
 *       invalidate.lua} fires), so nothing in the daemon is trusted to report its own speed. The
 *       figure from the transaction's intended start (coordinated-omission corrected) is kept too.
 *       The first {@code warmup} of each rate is reported separately (for the first rate that is
 *       the daemon's first seconds), not mixed into the steady figures.
 *   <li>Baseline, same schedule and writers: the naive cache-aside application, which inserts the
 *       same row into a copy of the table without trigger (no relay sees it), commits, then unlinks
 *       the entry itself through one shared Redis connection. Measured the same way.
 *   <li>Capacity: before the rates, the bare write path (the baseline's insert and commit in a
 *       closed loop on the same connections) is measured; rates above it are skipped, since the
 *       writers alone could not offer them.
 *   <li>Backlog: every second of a rate, the outbox's unrelayed rows and the stream's undelivered
 *       and pending entries are sampled; the growth is the mean of the last ten samples minus the
 *       mean of the first ten, per second of window. Bounded means it is below 1% of the rate.
 * </ul>
 */
final class SustainedScenario {
  private SustainedScenario() {}

  /** The daemon's main class; it is on the class path when the bench runs from the CLI jar. */
  static final String DAEMON_MAIN = "dev.invalidator.server.Main";

  private static final String GROUP = RedisStreamSource.DEFAULT_GROUP;

  private static final class Phase extends OpenLoopPhase<String> {
    final Recorder fromCommit = new Recorder(3);
    final Recorder fromIntended = new Recorder(3);
    final Recorder warmupFromCommit = new Recorder(3);
  }

  static ScenarioResult run(
      BenchEnvironment env,
      BenchSettings s,
      PrintStream out,
      Path daemonLog,
      List<CommitToApplyScenario.Curves> curvesOut)
      throws Exception {
    return run(env, s, out, daemonLog, curvesOut, "polling");
  }

  /**
   * The scenario with the daemon's relay in {@code relayMode} ({@code relay.mode}: {@code polling}
   * or {@code cdc}); each mode works in its own table and keys.
   */
  static ScenarioResult run(
      BenchEnvironment env,
      BenchSettings s,
      PrintStream out,
      Path daemonLog,
      List<CommitToApplyScenario.Curves> curvesOut,
      String relayMode)
      throws Exception {
    BenchSettings.Sustained cfg = s.sustained();
    requireDaemonOnClassPath();
    String tag = relayMode.equals("polling") ? "sus" : "sus_" + relayMode;
    OutboxTable outbox = env.outbox(tag + "_outbox");
    OutboxTable naive = env.likeWithoutTrigger(outbox, tag + "_naive");
    KeyScheme keys = env.keys(tag.replace('_', '-'));
    String pipelineSql = insertSql(env, outbox);
    String naiveSql = insertSql(env, naive);
    RedisCommands<String, String> redis = env.connection().sync();
    int db = RedisURI.create(env.redisUrl()).getDatabase();
    String previousFlags = flags(redis.configGet("notify-keyspace-events"));
    String wanted = withFlags(previousFlags, "Eg");
    List<Connection> connections = new ArrayList<>();
    AtomicReference<Phase> current = new AtomicReference<>(new Phase());
    List<LatencyPoint> pipelinePoints = new ArrayList<>();
    List<LatencyPoint> baselinePoints = new ArrayList<>();
    List<Map<String, Object>> perRate = new ArrayList<>();
    List<Figure> figures = new ArrayList<>();
    Map<String, Object> details = new LinkedHashMap<>();
    Process daemon = null;
    StatefulRedisPubSubConnection<String, String> sub = env.redis().connectPubSub();
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
    try (RedisStreamSource probe =
        RedisStreamSource.builder(env.redis(), keys).group(GROUP).consumer("bench-probe").build()) {
      redis.configSet("notify-keyspace-events", wanted);
      sub.addListener(
          new RedisPubSubAdapter<>() {
            @Override
            public void message(String channel, String key) {
              long now = System.nanoTime();
              Phase ph = current.get();
              OpenLoopPhase.Pending p = ph.pending.remove(key);
              if (p == null) {
                return;
              }
              long committed = p.committed;
              if (p.intended < ph.measureFrom) {
                if (committed > 0) {
                  ph.warmupFromCommit.recordValue(Math.max(0, now - committed));
                }
                return;
              }
              ph.fromIntended.recordValue(Math.max(0, now - p.intended));
              if (committed > 0) {
                ph.fromCommit.recordValue(Math.max(0, now - committed));
              }
            }
          });
      sub.sync().subscribe("__keyevent@" + db + "__:del");
      for (int i = 0; i < cfg.writers(); i++) {
        Connection c = env.connect();
        c.setAutoCommit(true);
        connections.add(c);
      }

      double capacity = capacity(connections, naiveSql, cfg.capacityDuration());
      out.printf(
          "  bare write path (insert + commit, %d connections, closed loop): %,.0f tx/s%n",
          cfg.writers(), capacity);
      details.put("bareWriteCapacityTxPerSecond", Math.round(capacity));

      daemon = startDaemon(env, outbox, keys, daemonLog, out, relayMode);
      details.put("daemonLog", daemonLog.toString());

      long base = 0;
      List<Integer> skipped = new ArrayList<>();
      for (int rate : cfg.rates()) {
        if (rate > capacity) {
          skipped.add(rate);
          out.printf("  %,d/s skipped: above the bare write path's %,.0f tx/s%n", rate, capacity);
          continue;
        }
        // Baseline: the naive writer deletes the entry itself after its commit.
        long nb = OpenLoopPhase.events(rate, cfg.warmup().plus(cfg.baselineDuration()));
        RedisFixtures.fillEntries(env.connection(), keys, base, base + nb);
        out.printf(
            "  %,d/s naive baseline (insert, commit, UNLINK in the writer) for %d s...%n",
            rate, cfg.baselineDuration().toSeconds());
        Phase bph = new Phase();
        current.set(bph);
        long bfrom = base;
        schedule(
            connections,
            naiveSql,
            rate,
            base,
            nb,
            cfg.warmup(),
            bph,
            keys,
            (key) -> redis.unlink(key));
        awaitDrained(bph, Duration.ofSeconds(30));
        long baseUnapplied = bph.pending.size();
        base += nb;
        LatencyPoint bp =
            LatencyPoint.of(
                rate, bph.achieved(cfg.baselineDuration()), bph.fromCommit.getIntervalHistogram());

        // The pipeline: the writer only commits; the daemon invalidates.
        long n = OpenLoopPhase.events(rate, cfg.warmup().plus(cfg.duration()));
        RedisFixtures.fillEntries(env.connection(), keys, base, base + n);
        out.printf(
            "  %,d/s through the daemon for %d s (+%d s reported as warm-up)...%n",
            rate, cfg.duration().toSeconds(), cfg.warmup().toSeconds());
        Phase ph = new Phase();
        current.set(ph);
        List<long[]> samples = new ArrayList<>();
        long sampleStart = System.nanoTime();
        var sampling =
            sampler.scheduleAtFixedRate(
                () -> sample(env, outbox, probe, sampleStart, samples), 0, 1, TimeUnit.SECONDS);
        schedule(connections, pipelineSql, rate, base, n, cfg.warmup(), ph, keys, null);
        sampling.cancel(false);
        awaitDrained(ph, Duration.ofSeconds(30));
        long unapplied = ph.pending.size();
        long left =
            RedisFixtures.countEntries(env.connection(), keys, base, base + n - ph.notStarted);
        base += n;
        Histogram fromCommit = ph.fromCommit.getIntervalHistogram();
        Histogram fromIntended = ph.fromIntended.getIntervalHistogram();
        Histogram warm = ph.warmupFromCommit.getIntervalHistogram();
        LatencyPoint pp = LatencyPoint.of(rate, ph.achieved(cfg.duration()), fromCommit);
        pipelinePoints.add(pp);
        baselinePoints.add(bp);
        Backlog backlog = Backlog.of(samples, cfg.warmup());
        boolean bounded = backlog.growthPerSecond() < 0.01 * rate;
        out.printf(
            "  %,d/s: achieved %,.0f/s; commit->evict %s (naive %s); warm-up p99 %s ms, max %s"
                + " ms; backlog max %,d, growth %.1f/s (%s); entries left %d, unapplied %d%n",
            rate,
            pp.achievedRate(),
            describe(pp),
            describe(bp),
            Report.number(LatencyPoint.ms(warm.getValueAtPercentile(99))),
            Report.number(LatencyPoint.ms(warm.getMaxValue())),
            backlog.max(),
            backlog.growthPerSecond(),
            bounded ? "bounded" : "GROWING",
            left,
            unapplied);
        if (pp.count() > 0 && bp.count() > 0) {
          figures.add(
              Figure.latency("commit->evict p99 @ " + rate + "/s (ms)", pp.p99(), bp.p99()));
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("offeredRate", rate);
        r.put("pipeline", pp);
        r.put("baseline", bp);
        r.put("fromIntendedStartP99Ms", LatencyPoint.ms(fromIntended.getValueAtPercentile(99)));
        r.put("fromIntendedStartMaxMs", LatencyPoint.ms(fromIntended.getMaxValue()));
        r.put("warmupCount", warm.getTotalCount());
        r.put("warmupP99Ms", LatencyPoint.ms(warm.getValueAtPercentile(99)));
        r.put("warmupMaxMs", LatencyPoint.ms(warm.getMaxValue()));
        r.put("backlogMax", backlog.max());
        r.put("backlogGrowthPerSecond", backlog.growthPerSecond());
        r.put("backlogBounded", bounded);
        r.put("backlogSamples", backlog.samples());
        r.put("entriesLeftAfterDrain", left);
        r.put("eventsUnappliedAfter30s", unapplied);
        r.put("baselineUnappliedAfter30s", baseUnapplied);
        r.put("notStartedByWindowEnd", ph.notStarted);
        r.put("baselineNotStartedByWindowEnd", bph.notStarted);
        perRate.add(r);
      }
      details.put("skippedRatesAboveCapacity", skipped);
    } finally {
      sampler.shutdownNow();
      current.set(new Phase());
      if (daemon != null) {
        stopDaemon(daemon);
      }
      try {
        sub.close();
      } catch (RuntimeException ex) {
        // closing only
      }
      try {
        redis.configSet("notify-keyspace-events", previousFlags);
      } catch (RuntimeException ex) {
        out.printf("  could not restore notify-keyspace-events: %s%n", ex.getMessage());
      }
      for (Connection c : connections) {
        c.close();
      }
      env.deleteKeys(keys);
    }
    curvesOut.add(new CommitToApplyScenario.Curves(pipelinePoints, baselinePoints));
    details.put("relayMode", relayMode);
    details.put("database", env.dialect().name());
    details.put("writers", cfg.writers());
    details.put("secondsPerRate", cfg.duration().toSeconds());
    details.put("baselineSecondsPerRate", cfg.baselineDuration().toSeconds());
    details.put("warmupSeconds", cfg.warmup().toSeconds());
    details.put("rates", perRate);
    return new ScenarioResult(
        "sustained",
        "6. freshness under sustained load"
            + (relayMode.equals("polling") ? "" : " (" + relayMode + " relay)")
            + (env.mysql() ? " (MySQL/MariaDB)" : ""),
        "invalidator run (separate process, default settings"
            + (relayMode.equals("polling") ? "" : " but relay.mode " + relayMode)
            + "); "
            + cfg.writers()
            + " writer connections, one plain-SQL outbox INSERT per auto-commit transaction, each"
            + " on its own aggregate holding a cache entry, open-loop schedule; latency from the"
            + " commit's return to Redis's keyspace notification of the entry's deletion",
        "same schedule and writers: insert into a trigger-less copy, commit, then UNLINK the"
            + " entry in the writer (naive delete-after-commit); measured the same way",
        figures,
        details);
  }

  private static String describe(LatencyPoint p) {
    if (p.count() == 0) {
      return "NONE APPLIED within the window";
    }
    return String.format(
        java.util.Locale.ROOT,
        "p50 %s / p99 %s / p99.9 %s / max %s ms",
        Report.number(p.p50()),
        Report.number(p.p99()),
        Report.number(p.p999()),
        Report.number(p.max()));
  }

  private static String insertSql(BenchEnvironment env, OutboxTable t) {
    return "INSERT INTO "
        + env.qualified(t)
        + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
        + " payload) VALUES ("
        + env.uuidSql()
        + ", ?, ?, ?, 1, 'account.updated', '{}')";
  }

  /** The bare write path: insert + commit in a closed loop on every connection. */
  private static double capacity(List<Connection> connections, String sql, Duration d)
      throws Exception {
    AtomicInteger slot = new AtomicInteger();
    LongAdder done = new LongAdder();
    long end = System.nanoTime() + d.toNanos();
    AtomicLong seq = new AtomicLong(Long.MAX_VALUE / 2);
    long t0 = System.nanoTime();
    ApplyScenario.onThreads(
        connections.size(),
        () -> {
          Connection c = connections.get(slot.getAndIncrement());
          try (PreparedStatement ps = c.prepareStatement(sql)) {
            while (System.nanoTime() < end) {
              bind(ps, seq.getAndIncrement());
              ps.executeUpdate();
              done.increment();
            }
          }
        });
    return done.sum() / ((System.nanoTime() - t0) / 1e9);
  }

  private static void bind(PreparedStatement ps, long i) throws Exception {
    var ref = RedisFixtures.aggregate(i);
    ps.setString(1, ref.tenantId());
    ps.setString(2, ref.type());
    ps.setString(3, ref.id());
  }

  @FunctionalInterface
  private interface AfterCommit {
    void run(String key) throws Exception;
  }

  private static void schedule(
      List<Connection> connections,
      String sql,
      int rate,
      long from,
      long n,
      Duration warmup,
      Phase ph,
      KeyScheme keys,
      AfterCommit after)
      throws Exception {
    AtomicLong next = new AtomicLong();
    AtomicInteger slot = new AtomicInteger();
    AtomicLong issued = new AtomicLong();
    double interval = 1e9 / rate;
    long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    ph.measureFrom = start + warmup.toNanos();
    long windowEnd = start + (long) (n * interval);
    ApplyScenario.onThreads(
        connections.size(),
        () -> {
          Connection c = connections.get(slot.getAndIncrement());
          try (PreparedStatement ps = c.prepareStatement(sql)) {
            while (System.nanoTime() <= windowEnd) {
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
              String key = keys.entry(RedisFixtures.aggregate(from + i), RedisFixtures.VIEW);
              OpenLoopPhase.Pending p = new OpenLoopPhase.Pending(intended);
              ph.pending.put(key, p);
              bind(ps, from + i);
              ps.executeUpdate();
              p.committed = System.nanoTime();
              if (after != null) {
                after.run(key);
              }
              ph.countCommit(intended);
            }
          }
        });
    ph.notStarted = n - issued.get();
  }

  private static void awaitDrained(Phase ph, Duration max) throws InterruptedException {
    long until = System.nanoTime() + max.toNanos();
    while (!ph.pending.isEmpty() && System.nanoTime() < until) {
      Thread.sleep(20);
    }
  }

  /** One sample: seconds since the start, unrelayed rows, undelivered entries, pending entries. */
  private static void sample(
      BenchEnvironment env,
      OutboxTable outbox,
      RedisStreamSource probe,
      long start,
      List<long[]> samples) {
    try (Connection c = env.dataSource().getConnection();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT count(*) FROM " + env.qualified(outbox) + " WHERE relayed_at IS NULL")) {
      rs.next();
      long unrelayed = rs.getLong(1);
      StreamStats stats = probe.stats();
      long t = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      synchronized (samples) {
        samples.add(new long[] {t, unrelayed, Math.max(0, stats.lag()), stats.pending()});
      }
    } catch (Exception ex) {
      // A missed sample only thins the series.
    }
  }

  /** The backlog series of one rate, without its warm-up. */
  record Backlog(long max, double growthPerSecond, List<Map<String, Long>> samples) {
    static Backlog of(List<long[]> raw, Duration warmup) {
      List<long[]> s;
      synchronized (raw) {
        s = raw.stream().filter(x -> x[0] >= warmup.toMillis()).toList();
      }
      List<Map<String, Long>> out = new ArrayList<>();
      long max = 0;
      for (long[] x : s) {
        long total = x[1] + x[2] + x[3];
        max = Math.max(max, total);
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("ms", x[0]);
        m.put("unrelayed", x[1]);
        m.put("undelivered", x[2]);
        m.put("pending", x[3]);
        out.add(m);
      }
      double growth = 0;
      int k = Math.min(10, s.size() / 2);
      if (k > 0) {
        double first =
            s.subList(0, k).stream().mapToLong(x -> x[1] + x[2] + x[3]).average().orElse(0);
        List<long[]> tail = s.subList(s.size() - k, s.size());
        double last = tail.stream().mapToLong(x -> x[1] + x[2] + x[3]).average().orElse(0);
        double secs = (tail.get(k - 1)[0] - s.get(0)[0]) / 1000.0;
        growth = secs <= 0 ? 0 : (last - first) / secs;
      }
      return new Backlog(max, Math.max(0, growth), out);
    }
  }

  private static void requireDaemonOnClassPath() {
    try {
      Class.forName(DAEMON_MAIN, false, SustainedScenario.class.getClassLoader());
    } catch (ClassNotFoundException ex) {
      throw new IllegalStateException(
          "the sustained scenario starts the daemon ("
              + DAEMON_MAIN
              + "), which is not on this class path: run it from the invalidator CLI");
    }
  }

  private static Process startDaemon(
      BenchEnvironment env,
      OutboxTable outbox,
      KeyScheme keys,
      Path logFile,
      PrintStream out,
      String relayMode)
      throws IOException, InterruptedException {
    Map<String, String> daemonEnv = new java.util.LinkedHashMap<>();
    daemonEnv.put("INVALIDATOR_POSTGRES_TABLE", outbox.table());
    daemonEnv.put("INVALIDATOR_POSTGRES_SCHEMA", outbox.schema());
    daemonEnv.put("INVALIDATOR_REDIS_PREFIX", keys.prefix());
    daemonEnv.put("INVALIDATOR_ADMIN_PORT", "0");
    daemonEnv.put("INVALIDATOR_RELAY_MODE", relayMode);
    out.printf(
        "  starting the daemon: invalidator run, %s relay (log: %s)...%n", relayMode, logFile);
    long t0 = System.nanoTime();
    // Registered: stopped when the bench exits, Ctrl-C included.
    Process p =
        DaemonProcesses.startDaemon(
            List.of("run", "--postgres-url", env.jdbcUrl(), "--redis-url", env.redisUrl()),
            daemonEnv,
            logFile);
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < until) {
      if (!p.isAlive()) {
        throw new IllegalStateException(
            "the daemon exited with " + p.exitValue() + " during start-up; see " + logFile);
      }
      String log = Files.readString(logFile, StandardCharsets.UTF_8);
      if (log.contains("invalidator running")) {
        out.printf("  daemon ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        return p;
      }
      Thread.sleep(100);
    }
    p.destroyForcibly();
    throw new IllegalStateException("the daemon did not start within 90 s; see " + logFile);
  }

  private static void stopDaemon(Process p) throws InterruptedException {
    p.destroy();
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static String flags(Map<String, String> config) {
    String v = config.get("notify-keyspace-events");
    return v == null ? "" : v;
  }

  /** {@code flags} with every character of {@code add} that it lacks. */
  static String withFlags(String flags, String add) {
    StringBuilder b = new StringBuilder(flags);
    for (char ch : add.toCharArray()) {
      if (flags.indexOf(ch) < 0 && !(ch == 'g' && flags.indexOf('A') >= 0)) {
        b.append(ch);
      }
    }
    return b.toString();
  }
}
