package dev.invalidator.server.consistency;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.redis.CacheInspector;
import dev.invalidator.server.config.InvalidatorConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consistency observer: measures whether what a {@link dev.invalidator.redis.CacheClient}
 * reader would be served is as new as the database, T after a write, for each configured grace
 * period T (README "Consistency observer").
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li>Sources of checks: a sample ({@code observer.sampleRate}) of the events the workers applied
 *       to Redis ({@link #applied}, on the worker thread: it only draws a random number and
 *       schedules), and {@code observer.entrySamples} cache entries a second picked with {@code
 *       RANDOMKEY}, whose database version is read when picked.
 *   <li>A check of aggregate A waiting for version e, due at commit + T: read what Redis would
 *       serve for every view of A ({@link CacheInspector}, CacheClient's own serve rule), then the
 *       row's version d from the database ({@link VersionQueries}). d &gt; e: the row changed
 *       again, {@code unknown}, checked again T later waiting for d (up to {@value #MAX_RECHECKS}
 *       times). Otherwise a servable view older than d is {@code inconsistent}, else {@code
 *       consistent}.
 *   <li>Never blocks the workers: one scheduler thread of its own; at most {@value #MAX_QUEUED}
 *       checks wait, more are dropped and counted ({@code queue_full}); database reads are limited
 *       to {@code observer.maxDbReadsPerSecond}, a check without a permit is dropped and counted
 *       ({@code rate_limited}).
 *   <li>Figures: {@code invalidator_consistency_checks_total{result}}, ratio and nines per grace
 *       and tenant series over {@code observer.window}, cumulative totals for the demo's line, the
 *       last {@value #RECENT} inconsistencies for {@code /api/consistency}. Every inconsistency is
 *       logged at WARN with tenant, aggregate, view, versions and trace id.
 * </ul>
 */
public final class ConsistencyObserver implements WorkerListener, AutoCloseable {
  /** Checks waiting at most; beyond, samples are dropped. */
  public static final int MAX_QUEUED = 10_000;

  /** Re-checks of an {@code unknown} result before the sample is given up. */
  public static final int MAX_RECHECKS = 3;

  /** Inconsistencies kept for {@code /api/consistency}. */
  public static final int RECENT = 50;

  /** The tenant label of the series over every tenant. */
  public static final String ALL_TENANTS = "*";

  /** The reasons a sample is dropped, the {@code reason} label. */
  public static final List<String> DROP_REASONS =
      List.of("queue_full", "rate_limited", "no_row", "unsettled", "error");

  private static final Logger log = LoggerFactory.getLogger(ConsistencyObserver.class);

  private final InvalidatorConfig.Observer cfg;
  private final List<Duration> graces;
  private final List<String> tenants;
  private final CacheInspector inspector;
  private final VersionQueries queries;
  private final RateLimiter dbReads;
  private final Clock clock;
  private final ScheduledThreadPoolExecutor scheduler;
  private final AtomicInteger queued = new AtomicInteger();
  private final ConsistencyWindow window;
  private final long[][] totals;
  private final Map<String, Counter> results = new LinkedHashMap<>();
  private final Map<String, Counter> drops = new LinkedHashMap<>();
  private final LongAdder dropped = new LongAdder();
  private final Counter[] late;
  private final long[] lateTotals;
  private final Deque<Map<String, Object>> recent = new ArrayDeque<>();

  /** An inconsistency, for logs and {@code /api/consistency}. */
  private record Check(
      AggregateRef ref, long expected, List<String> views, int grace, String trace, int attempt) {}

  /**
   * @param tenants the tenants with their own series (the rest share {@code other})
   */
  public ConsistencyObserver(
      InvalidatorConfig.Observer cfg,
      List<String> tenants,
      CacheInspector inspector,
      VersionQueries queries,
      MeterRegistry registry,
      Clock clock) {
    this.cfg = cfg;
    this.graces = cfg.grace();
    this.tenants = List.copyOf(tenants);
    this.inspector = inspector;
    this.queries = queries;
    this.clock = clock;
    this.dbReads = new RateLimiter(cfg.maxDbReadsPerSecond(), System::nanoTime);
    this.window = new ConsistencyWindow(graces.size(), Math.max(1, cfg.window().toSeconds()));
    this.totals = new long[graces.size()][Verdict.values().length];
    this.scheduler =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "consistency-observer");
              t.setDaemon(true);
              return t;
            });
    scheduler.setRemoveOnCancelPolicy(true);
    for (Verdict v : Verdict.values()) {
      results.put(
          v.label(),
          Counter.builder("invalidator.consistency.checks")
              .description(
                  "Consistency checks by result: consistent, inconsistent (a servable entry older than the database), unknown (the row changed again; re-checked)")
              .tag("result", v.label())
              .register(registry));
    }
    for (String reason : DROP_REASONS) {
      drops.put(
          reason,
          Counter.builder("invalidator.consistency.samples.dropped")
              .description(
                  "Consistency samples not checked: queue_full, rate_limited (observer.maxDbReadsPerSecond), no_row, unsettled (still changing after the re-checks), error")
              .tag("reason", reason)
              .register(registry));
    }
    this.late = new Counter[graces.size()];
    this.lateTotals = new long[graces.size()];
    for (int g = 0; g < graces.size(); g++) {
      late[g] =
          Counter.builder("invalidator.consistency.late")
              .description(
                  "Sampled events whose invalidation was applied more than the grace period after commit: a reader could be served the old version at T; not checked at that grace period")
              .tag("grace", graceLabel(graces.get(g)))
              .register(registry);
    }
    List<String> series = new ArrayList<>(this.tenants);
    series.add(InvalidatorConfig.Observability.OTHER);
    series.add(ALL_TENANTS);
    for (int g = 0; g < graces.size(); g++) {
      int grace = g;
      String label = graceLabel(graces.get(g));
      for (String s : series) {
        String key = s.equals(ALL_TENANTS) ? null : s;
        Gauge.builder(
                "invalidator.consistency.ratio",
                () -> {
                  long[] c = window.cachedCounts(clock.instant().getEpochSecond(), key, grace);
                  return Nines.ratio(c[0], c[1]);
                })
            .description(
                "Share of decided checks (consistent / (consistent + inconsistent)) over observer.window, per grace period and tenant series (* = all); NaN without checks")
            .tags("grace", label, "tenant", s)
            .register(registry);
        Gauge.builder(
                "invalidator.consistency.nines",
                () -> {
                  long[] c = window.cachedCounts(clock.instant().getEpochSecond(), key, grace);
                  return Nines.nines(Nines.ratio(c[0], c[1]));
                })
            .description(
                "-log10(1 - consistency ratio) over observer.window: 3 means 99.9%; +Inf when no check was inconsistent")
            .tags("grace", label, "tenant", s)
            .register(registry);
      }
    }
  }

  /** Starts the random entry sampling (when {@code observer.entrySamples} is above 0). */
  public ConsistencyObserver start() {
    if (cfg.entrySamples() > 0) {
      scheduler.scheduleWithFixedDelay(this::sampleEntries, 1, 1, TimeUnit.SECONDS);
    }
    log.info(
        "consistency observer: {} of applied events and {} random entries/s, checked {} after commit,"
            + " database reads at most {}/s, types {}",
        cfg.sampleRate(),
        cfg.entrySamples(),
        graces.stream().map(ConsistencyObserver::graceLabel).toList(),
        cfg.maxDbReadsPerSecond(),
        cfg.queries().keySet());
    return this;
  }

  @Override
  public void applied(
      String target,
      InvalidationEvent event,
      ApplyResult result,
      Instant committedAt,
      Instant appliedAt) {
    if (!dev.invalidator.redis.VersionGatedRedisTarget.NAME.equals(target)
        || !result.succeeded()
        || !queries.covers(event.aggregate().type())
        || ThreadLocalRandom.current().nextDouble() >= cfg.sampleRate()) {
      return;
    }
    Instant from = committedAt != null ? committedAt : appliedAt;
    String trace = event.trace().traceparent();
    for (int g = 0; g < graces.size(); g++) {
      Instant due = from.plus(graces.get(g));
      if (appliedAt != null && appliedAt.isAfter(due)) {
        // Checked now, after the apply, it would be consistent by construction, blind to what
        // readers were served between commit + T and the apply: counted as late, not judged.
        late[g].increment();
        synchronized (totals) {
          lateTotals[g]++;
        }
        continue;
      }
      schedule(
          new Check(
              event.aggregate(), event.aggregateVersion(), event.payload().views(), g, trace, 0),
          due);
    }
  }

  /**
   * Picks {@code observer.entrySamples} random cache entries now, reads their rows' versions and
   * schedules their checks; the observer's scheduler calls it every second.
   */
  public void sampleEntries() {
    for (int i = 0; i < cfg.entrySamples(); i++) {
      try {
        Optional<KeyScheme.EntryKey> entry = inspector.randomEntry(10);
        if (entry.isEmpty() || !queries.covers(entry.get().aggregate().type())) {
          continue;
        }
        if (!dbReads.tryAcquire()) {
          drop("rate_limited");
          continue;
        }
        OptionalLong now = queries.version(entry.get().aggregate());
        if (now.isEmpty()) {
          drop("no_row");
          continue;
        }
        Instant from = clock.instant();
        for (int g = 0; g < graces.size(); g++) {
          schedule(
              new Check(
                  entry.get().aggregate(),
                  now.getAsLong(),
                  List.of(entry.get().view()),
                  g,
                  null,
                  0),
              from.plus(graces.get(g)));
        }
      } catch (Exception e) {
        drop("error");
        log.debug("random entry sample failed: {}", e.toString());
      }
    }
  }

  private void schedule(Check check, Instant due) {
    if (queued.incrementAndGet() > MAX_QUEUED) {
      queued.decrementAndGet();
      drop("queue_full");
      return;
    }
    long delay = Math.max(0, Duration.between(clock.instant(), due).toMillis());
    try {
      scheduler.schedule(() -> run(check), delay, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      queued.decrementAndGet(); // closed
    }
  }

  private void run(Check check) {
    queued.decrementAndGet();
    try {
      if (!dbReads.tryAcquire()) {
        drop("rate_limited");
        return;
      }
      CacheInspector.Served served = inspector.inspect(check.ref(), check.views());
      OptionalLong db = queries.version(check.ref());
      if (db.isEmpty()) {
        drop("no_row");
        return;
      }
      long database = db.getAsLong();
      Verdict verdict = Verdict.of(check.expected(), database, served);
      record(check, verdict);
      if (verdict == Verdict.UNKNOWN) {
        if (check.attempt() < MAX_RECHECKS) {
          schedule(
              new Check(
                  check.ref(),
                  database,
                  check.views(),
                  check.grace(),
                  check.trace(),
                  check.attempt() + 1),
              clock.instant().plus(graces.get(check.grace())));
        } else {
          drop("unsettled");
        }
      } else if (verdict == Verdict.INCONSISTENT) {
        inconsistent(check, served, database);
      }
    } catch (Exception e) {
      drop("error");
      log.debug("consistency check of {} failed: {}", check.ref(), e.toString());
    }
  }

  private void record(Check check, Verdict verdict) {
    String tenant = check.ref().tenantId();
    String series = tenants.contains(tenant) ? tenant : InvalidatorConfig.Observability.OTHER;
    window.record(clock.instant().getEpochSecond(), series, check.grace(), verdict);
    synchronized (totals) {
      totals[check.grace()][verdict.ordinal()]++;
    }
    results.get(verdict.label()).increment();
  }

  private void inconsistent(Check check, CacheInspector.Served served, long database) {
    for (CacheInspector.View v : served.servableOlderThan(database)) {
      log.warn(
          "inconsistent cache: tenant {} aggregate {}/{} view {} would be served version {} but"
              + " the database holds {} (fence {}, {} after commit, trace {})",
          check.ref().tenantId(),
          check.ref().type(),
          check.ref().id(),
          v.view(),
          v.version(),
          database,
          served.fence() < 0 ? "none" : Long.toString(served.fence()),
          graceLabel(graces.get(check.grace())),
          check.trace() == null ? "none" : traceId(check.trace()));
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("at", clock.instant().toString());
      m.put("tenant", check.ref().tenantId());
      m.put("aggregate_type", check.ref().type());
      m.put("aggregate_id", check.ref().id());
      m.put("view", v.view());
      m.put("served_version", v.version());
      m.put("database_version", database);
      m.put("fence", served.fence() < 0 ? null : served.fence());
      m.put("grace", graceLabel(graces.get(check.grace())));
      m.put("trace_id", check.trace() == null ? null : traceId(check.trace()));
      synchronized (recent) {
        recent.addFirst(m);
        while (recent.size() > RECENT) {
          recent.removeLast();
        }
      }
    }
  }

  private void drop(String reason) {
    dropped.increment();
    drops.get(reason).increment();
  }

  /** Verdicts since start for grace index {@code g}: {consistent, inconsistent, unknown}. */
  public long[] totals(int g) {
    synchronized (totals) {
      return totals[g].clone();
    }
  }

  /**
   * Sampled events applied later than grace index {@code g} after commit, since start; they are not
   * checked at that grace period.
   */
  public long late(int g) {
    synchronized (totals) {
      return lateTotals[g];
    }
  }

  /** Samples dropped since start, whatever the reason. */
  public long dropped() {
    return dropped.sum();
  }

  /** Checks scheduled and not yet run. */
  public int queued() {
    return queued.get();
  }

  /** The grace periods, shortest first. */
  public List<Duration> graces() {
    return graces;
  }

  /**
   * The demo's line: {@code consistency: 99.99998% (6.7 nines) within 1 s, 100% within 10 s (N
   * checks)}, from the totals since start.
   */
  public String summaryLine() {
    StringBuilder b = new StringBuilder("consistency: ");
    long checks = 0;
    StringBuilder lateText = new StringBuilder();
    for (int g = 0; g < graces.size(); g++) {
      long[] t = totals(g);
      checks += t[0] + t[1] + t[2];
      if (g > 0) {
        b.append(", ");
      }
      b.append(Nines.format(t[0], t[1])).append(" within ").append(human(graces.get(g)));
      if (late(g) > 0) {
        lateText
            .append(", ")
            .append(late(g))
            .append(" applied later than ")
            .append(human(graces.get(g)));
      }
    }
    return b.append(" (")
        .append(checks)
        .append(" checks, ")
        .append(dropped())
        .append(" dropped")
        .append(lateText)
        .append(")")
        .toString();
  }

  /** The body of {@code /api/consistency}. */
  public Map<String, Object> report() {
    Map<String, Object> out = new LinkedHashMap<>();
    long now = clock.instant().getEpochSecond();
    out.put("enabled", true);
    out.put("window_seconds", cfg.window().toSeconds());
    out.put("sample_rate", cfg.sampleRate());
    out.put("entry_samples_per_second", cfg.entrySamples());
    out.put("max_db_reads_per_second", cfg.maxDbReadsPerSecond());
    List<Map<String, Object>> perGrace = new ArrayList<>();
    for (int g = 0; g < graces.size(); g++) {
      Map<String, Object> m = figures(window.counts(now, null, g));
      m.put("grace", graceLabel(graces.get(g)));
      m.put("grace_seconds", graces.get(g).toMillis() / 1000.0);
      long[] t = totals(g);
      m.put("since_start", figures(t));
      m.put("late_applies_since_start", late(g));
      Map<String, Object> byTenant = new LinkedHashMap<>();
      List<String> series = new ArrayList<>(tenants);
      series.add(InvalidatorConfig.Observability.OTHER);
      for (String s : series) {
        byTenant.put(s, figures(window.counts(now, s, g)));
      }
      m.put("tenants", byTenant);
      perGrace.add(m);
    }
    out.put("graces", perGrace);
    out.put("queued", queued());
    out.put("dropped", dropped());
    synchronized (recent) {
      out.put("recent_inconsistencies", new ArrayList<>(recent));
    }
    return out;
  }

  static Map<String, Object> figures(long[] c) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("consistent", c[0]);
    m.put("inconsistent", c[1]);
    m.put("unknown", c[2]);
    double ratio = Nines.ratio(c[0], c[1]);
    double nines = Nines.nines(ratio);
    m.put("ratio", Double.isNaN(ratio) ? null : ratio);
    m.put("nines", Double.isNaN(nines) || Double.isInfinite(nines) ? null : nines);
    m.put("text", Nines.format(c[0], c[1]));
    return m;
  }

  /** The label of a grace period: {@code 1s}, {@code 500ms}, {@code 1m}. */
  public static String graceLabel(Duration d) {
    return dev.invalidator.server.config.Durations.format(d);
  }

  private static String human(Duration d) {
    long ms = d.toMillis();
    if (ms % 60_000 == 0 && ms >= 60_000) {
      return ms / 60_000 + " min";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + " s";
    }
    return ms + " ms";
  }

  /** The trace id of a W3C traceparent ({@code 00-<trace id>-<span id>-<flags>}). */
  static String traceId(String traceparent) {
    String[] parts = traceparent.split("-");
    return parts.length >= 2 ? parts[1] : traceparent;
  }

  /** Stops scheduling; checks not yet run are dropped. Does not close the inspector. */
  @Override
  public void close() {
    scheduler.shutdownNow();
  }
}
