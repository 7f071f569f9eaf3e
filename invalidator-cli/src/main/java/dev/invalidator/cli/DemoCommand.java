package dev.invalidator.cli;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.embedded.EmbeddedKafkaBroker;
import dev.invalidator.embedded.EmbeddedPostgresServer;
import dev.invalidator.embedded.EmbeddedRedisCluster;
import dev.invalidator.embedded.EmbeddedRedisServer;
import dev.invalidator.http.CdnProvider;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.CacheInspector;
import dev.invalidator.redis.RedisConnection;
import dev.invalidator.redis.RedisLossMarker;
import dev.invalidator.redis.StreamStats;
import dev.invalidator.server.ConnectionOptions;
import dev.invalidator.server.Daemon;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.consistency.ConsistencyObserver;
import dev.invalidator.server.consistency.Verification;
import dev.invalidator.server.consistency.VersionQueries;
import io.lettuce.core.RedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.PrintStream;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.HdrHistogram.Histogram;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code invalidator demo}: the quick start. Starts embedded servers when no URLs are given, runs
 * relay and workers in-process, drives writers and cached readers across several tenants, prints a
 * line per second, then drains and proves that no cache entry is older than the database.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    description = {
      "Run a self-contained workload: writers commit account changes with outbox events, "
          + "readers read through CacheClient, relay and workers invalidate.",
      "Ends with 'stale after drain: N' (exit code 0 only when N is 0). Starts embedded "
          + "PostgreSQL and Redis when no URLs are given, and with --transport kafka an in-JVM Kafka "
          + "broker when no --kafka-bootstrap is given."
    })
final class DemoCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(DemoCommand.class);

  @Mixin ConnectionOptions connection;

  @Option(
      names = "--duration",
      defaultValue = "20s",
      description =
          "How long the workload runs: 90s, 5m, or a bare number of seconds (default: ${DEFAULT-VALUE}).")
  String duration;

  @Option(
      names = "--tenants",
      defaultValue = "4",
      description = "Tenants (default: ${DEFAULT-VALUE}).")
  int tenants;

  @Option(
      names = "--accounts",
      defaultValue = "50",
      description = "Accounts per tenant (default: ${DEFAULT-VALUE}).")
  int accounts;

  @Option(
      names = "--rate",
      defaultValue = "500",
      description = "Target writes per second, all writers together (default: ${DEFAULT-VALUE}).")
  int rate;

  @Option(
      names = "--writers",
      defaultValue = "4",
      description = "Writer threads (default: ${DEFAULT-VALUE}).")
  int writers;

  @Option(
      names = "--readers",
      defaultValue = "4",
      description = "Reader threads (default: ${DEFAULT-VALUE}).")
  int readers;

  @Option(
      names = "--drain-timeout",
      defaultValue = "60s",
      description =
          "How long to wait for the pipeline to drain: 30s, 2m, or a bare number of seconds (default: ${DEFAULT-VALUE}).")
  String drainTimeout;

  @Option(
      names = "--drop-invalidations",
      paramLabel = "FRACTION",
      defaultValue = "0",
      description =
          "Negative control: commit this fraction of the writes without their outbox event (0..1)."
              + " The demo's checker and the consistency observer must then both report stale"
              + " entries, and the demo exits 1 (default: ${DEFAULT-VALUE}).")
  double dropInvalidations;

  @Option(
      names = "--cdn",
      paramLabel = "fastly|cloudflare|akamai",
      description =
          "Also purge a CDN by tag: start a local fake of this provider's purge API (a real HTTP"
              + " server on loopback that checks each request's shape) and point the CDN target at"
              + " it. Each event then carries its account and the account list as cdn_tags.")
  String cdn;

  @Option(
      names = "--cdn-throttle-every",
      paramLabel = "N",
      defaultValue = "25",
      description =
          "The fake CDN answers every N-th purge request 429 with Retry-After: 1, as a provider's"
              + " rate limiter would; 0 never (default: ${DEFAULT-VALUE}).")
  int cdnThrottleEvery;

  @Option(
      names = "--observer-grace",
      paramLabel = "DURATIONS",
      defaultValue = "1s,10s",
      description =
          "When the consistency observer checks an applied event against the database: after each"
              + " of these delays, comma-separated (default: ${DEFAULT-VALUE}). The demo waits for"
              + " the last checks, twice the longest delay at most.")
  String observerGrace;

  private final PrintStream out = System.out;

  @Override
  public Integer call() throws Exception {
    if (!(dropInvalidations >= 0 && dropInvalidations <= 1)) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--drop-invalidations must be in 0..1");
    }
    if (tenants < 1 || accounts < 1 || writers < 1 || readers < 0 || rate < 1) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this),
          "--tenants, --accounts, --writers and --rate must be >= 1");
    }
    if (cdnThrottleEvery < 0) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--cdn-throttle-every must be >= 0");
    }
    CdnProvider cdnProvider = null;
    if (cdn != null) {
      try {
        cdnProvider = CdnProvider.fromLabel(cdn);
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.ParameterException(
            new picocli.CommandLine(this),
            "--cdn must be fastly, cloudflare or akamai, got '" + cdn + "'");
      }
    }
    Duration runFor = parseDuration("--duration", duration);
    Duration drainFor = parseDuration("--drain-timeout", drainTimeout);
    List<AutoCloseable> embedded = new ArrayList<>();
    try {
      Map<String, String> overrides = new LinkedHashMap<>();
      InvalidatorConfig base;
      try {
        base = connection.load();
      } catch (ConfigException e) {
        if (!"kafka.bootstrap".equals(e.setting()) || !e.getMessage().contains("is required")) {
          throw e;
        }
        // transport kafka without a bootstrap: the demo brings its own broker.
        out.println("No Kafka bootstrap given: starting an in-JVM Kafka broker (KRaft)...");
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start();
        embedded.add(0, broker);
        overrides.put("kafka.bootstrap", broker.bootstrap());
        base = connection.load(overrides);
      }
      if (!base.postgres().configured()) {
        out.println(
            "No PostgreSQL URL given: starting embedded PostgreSQL (first run unpacks binaries)...");
        EmbeddedPostgresServer pg = EmbeddedPostgresServer.start();
        embedded.add(pg);
        overrides.put("postgres.url", pg.jdbcUrl());
      }
      if (!base.redis().configured() && base.redis().cluster()) {
        out.println("No Redis URL given: starting an embedded 3-master Redis Cluster...");
        EmbeddedRedisCluster cluster = EmbeddedRedisCluster.start();
        embedded.add(cluster);
        overrides.put("redis.url", cluster.url());
        overrides.put("redis.cluster", "true");
        out.printf("Redis Cluster on %s (%s)%n", cluster.url(), cluster.binaryDescription());
      } else if (!base.redis().configured()) {
        out.println("No Redis URL given: starting embedded Redis...");
        EmbeddedRedisServer redis = EmbeddedRedisServer.start();
        embedded.add(redis);
        overrides.put("redis.url", redis.url());
      }
      // A fresh key prefix per run, so entries of an earlier run cannot count against this one.
      overrides.put(
          "redis.prefix",
          "demo-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()));
      if (base.observability().tenants().isEmpty()) {
        // The status page shows the first few demo tenants on their own rows, the rest as other.
        List<String> shown = new ArrayList<>();
        for (int t = 0; t < Math.min(tenants, 3); t++) {
          shown.add(DemoWorkload.tenant(t));
        }
        overrides.put("observability.tenants", String.join(",", shown));
      }
      overrides.put("observability.sampleInterval", "1s");
      // The consistency observer checks a tenth of the applied events and five random entries a
      // second against the demo table, 1 s and 10 s after each write.
      overrides.put("observer.enabled", "true");
      overrides.put("observer.sampleRate", "0.1");
      overrides.put("observer.entrySamples", "5");
      overrides.put("observer.grace", observerGrace);
      overrides.put("observer.maxDbReadsPerSecond", "300");
      overrides.put(
          "observer.queries",
          DemoWorkload.TYPE
              + "=SELECT version FROM "
              + DemoWorkload.TABLE
              + " WHERE tenant_id = ? AND account_id = ?");
      overrides.put("worker.claimMinIdle", "5s");
      overrides.put("worker.claimInterval", "1s");
      if (base.admin().port() != 0 && !portFree(base.admin().bind(), base.admin().port())) {
        out.printf(
            "Port %d is taken (admin.port): the status page takes a free port instead.%n",
            base.admin().port());
        overrides.put("admin.port", "0");
      }
      FakeCdn fakeCdn = null;
      if (cdnProvider != null) {
        fakeCdn = FakeCdn.start(cdnProvider, cdnThrottleEvery);
        embedded.add(0, fakeCdn);
        overrides.putAll(fakeCdn.settings());
        overrides.put("targets.cdn.everyEvent", "true");
        out.printf(
            "fake %s purge API on %s (429 every %s requests)%n",
            cdnProvider.label(),
            fakeCdn.endpoint(),
            cdnThrottleEvery == 0 ? "no" : Integer.toString(cdnThrottleEvery));
      }
      InvalidatorConfig cfg;
      try {
        cfg = connection.load(withBase(base, overrides));
      } catch (ConfigException e) {
        if ("observer.grace".equals(e.setting())) {
          throw new picocli.CommandLine.ParameterException(
              new picocli.CommandLine(this), "--observer-grace: " + e.getMessage());
        }
        throw e;
      }
      return run(cfg, runFor, drainFor, fakeCdn);
    } finally {
      for (AutoCloseable c : embedded) {
        try {
          c.close();
        } catch (Exception e) {
          log.debug("stopping embedded server failed", e);
        }
      }
    }
  }

  private static CacheClient.Builder onDaemonsRedis(CacheClient.Builder b, Daemon daemon) {
    return daemon.redis().cluster()
        ? b.redisClusterClient((RedisClusterClient) daemon.redis().client())
        : b.redisClient((RedisClient) daemon.redis().client());
  }

  private Map<String, String> withBase(InvalidatorConfig base, Map<String, String> overrides) {
    Map<String, String> m = new LinkedHashMap<>();
    if (base.postgres().configured()) {
      m.put("postgres.url", base.postgres().url());
    }
    if (base.redis().configured()) {
      m.put("redis.url", base.redis().url());
    }
    if (base.kafka().enabled()) {
      m.put("transport", "kafka");
      m.put("kafka.bootstrap", base.kafka().bootstrap());
    }
    if (base.redis().cluster()) {
      m.put("redis.cluster", "true");
    }
    m.putAll(overrides);
    return m;
  }

  private int run(InvalidatorConfig cfg, Duration runFor, Duration drainFor, FakeCdn fakeCdn)
      throws Exception {
    OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    KeyScheme keys = cfg.redis().keyScheme();
    FreshnessTracker tracker = new FreshnessTracker();
    DemoMetrics metrics = new DemoMetrics();
    try (Daemon daemon = Daemon.create(cfg, Daemon.Role.ALL, metrics, true);
        CacheClient cache =
            onDaemonsRedis(CacheClient.builder(), daemon)
                .meterRegistry(daemon.meterRegistry())
                .keyScheme(keys)
                .entryTtl(cfg.cache().entryTtl())
                .fenceTtl(cfg.cache().fenceTtl())
                .fillDeadline(cfg.cache().fillDeadline())
                .build();
        RedisConnection<String, String> redis = daemon.redis().connect()) {
      DemoWorkload workload =
          new DemoWorkload(
              daemon.dataSource(),
              OutboxWriter.create(table),
              cache,
              tracker,
              tenants,
              accounts,
              fakeCdn);
      workload.setUp();
      workload.dropInvalidations = dropInvalidations;
      if (dropInvalidations > 0) {
        out.printf(
            "NEGATIVE CONTROL: %.2f%% of the writes commit without their invalidation event%n",
            100 * dropInvalidations);
      }
      // The prefix was made up for this run, so Redis cannot have lost anything under it. Without
      // the marker the recovery loop would take the missing marker for a loss and re-publish
      // every outbox row relayed in its window, other runs' included, into this demo's stream
      // (their purges then hid the CDN negative control's unpurged tags).
      new RedisLossMarker(redis, keys).writeIfAbsent();
      URI admin = daemon.start(true);
      out.printf("status page: %s  (metrics: %smetrics)%n", admin, admin);
      out.printf(
          "demo: %d tenants x %d accounts, %d writers at %d writes/s, %d readers, for %s (key prefix %s)%n",
          tenants, accounts, writers, rate, readers, runFor, keys.prefix());
      String cdnTarget = fakeCdn == null ? null : "cdn-" + fakeCdn.provider().label();
      runWorkload(workload, metrics, tracker, cache, runFor, fakeCdn);
      out.println("workload stopped; waiting for the pipeline to drain...");
      long drainStart = System.nanoTime();
      boolean drained = awaitDrain(daemon, table, drainFor, cdnTarget);
      long drainMs = (System.nanoTime() - drainStart) / 1_000_000;
      int stale = checkAfterDrain(redis.sync(), workload, keys);
      Verification.Report verified = verifyAfterDrain(daemon, cfg, workload);
      ConsistencyObserver observer = daemon.consistencyObserver();
      awaitObserver(observer);
      printSummary(workload, metrics, tracker, cache, drained, drainMs, stale);
      boolean cdnOk = true;
      if (fakeCdn != null) {
        cdnOk = printCdnSummary(workload, fakeCdn, runFor.toMillis() + drainMs);
      }
      // The observer's own after-drain scan must agree with the demo's checker above.
      boolean agree = (verified.inconsistent() == 0) == (stale == 0);
      out.printf(
          "observer after drain: %d inconsistent of %d checked (%s)%s%n",
          verified.inconsistent(),
          verified.checked(),
          verified.text(),
          agree ? ", agrees with the checker" : ", DISAGREES with the checker");
      out.println(observer.summaryLine());
      out.printf("stale after drain: %d%n", stale);
      return drained && stale == 0 && agree && cdnOk ? 0 : 1;
    }
  }

  private void runWorkload(
      DemoWorkload workload,
      DemoMetrics metrics,
      FreshnessTracker tracker,
      CacheClient cache,
      Duration runFor,
      FakeCdn fakeCdn)
      throws InterruptedException {
    AtomicBoolean running = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(writers + readers);
    long perWriterIntervalNanos = TimeUnit.SECONDS.toNanos(1) * writers / rate;
    for (int i = 0; i < writers; i++) {
      pool.execute(
          () -> {
            long next = System.nanoTime();
            while (running.get()) {
              workload.write();
              next += perWriterIntervalNanos;
              long wait = next - System.nanoTime();
              if (wait > 0) {
                java.util.concurrent.locks.LockSupport.parkNanos(wait);
              } else if (wait < -TimeUnit.SECONDS.toNanos(1)) {
                next = System.nanoTime(); // fell behind: do not burst to catch up
              }
            }
          });
    }
    for (int i = 0; i < readers; i++) {
      pool.execute(
          () -> {
            while (running.get()) {
              workload.read();
            }
          });
    }
    long end = System.nanoTime() + runFor.toNanos();
    long lastWrites = 0;
    long lastApplied = 0;
    long lastRejected = 0;
    long[] lastCdn = new long[3];
    int second = 0;
    while (System.nanoTime() < end) {
      Thread.sleep(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
      second++;
      long writes = workload.writes.sum();
      long applied = metrics.applied.sum();
      long rejected = cache.stats().fillsRejected();
      Histogram h = metrics.takeInterval();
      long[] staleNow = tracker.takeInterval();
      out.printf(
          "[%3ds] writes/s %5d  invalidations/s %5d  commit->apply p50 %4d ms p99 %4d ms  fills rejected %3d  stale reads %3d (oldest %d ms)%n",
          second,
          writes - lastWrites,
          applied - lastApplied,
          h.getValueAtPercentile(50) / 1000,
          h.getValueAtPercentile(99) / 1000,
          rejected - lastRejected,
          staleNow[0],
          staleNow[1]);
      if (fakeCdn != null) {
        long[] now = {
          fakeCdn.purgeRequests.sum(), fakeCdn.tagsPurged.sum(), fakeCdn.throttled.sum()
        };
        out.printf(
            "       cdn %s: purges/s %4d  tags purged/s %5d  429s %3d (total %d)%n",
            fakeCdn.provider().label(),
            now[0] - lastCdn[0],
            now[1] - lastCdn[1],
            now[2] - lastCdn[2],
            now[2]);
        lastCdn = now;
      }
      lastWrites = writes;
      lastApplied = applied;
      lastRejected = rejected;
    }
    running.set(false);
    pool.shutdown();
    if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
      pool.shutdownNow();
    }
  }

  /**
   * Waits until the outbox, the Redis target's group and the CDN target's group (if any) drained.
   */
  private boolean awaitDrain(Daemon daemon, OutboxTable table, Duration timeout, String cdnTarget)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      OutboxStats outbox = OutboxStats.read(daemon.dataSource(), table);
      StreamStats stream = daemon.transportStats();
      StreamStats cdnStream = cdnTarget == null ? null : daemon.transportStats(cdnTarget);
      if (outbox.pending() == 0
          && stream.pending() == 0
          && stream.lag() == 0
          && (cdnStream == null || (cdnStream.pending() == 0 && cdnStream.lag() == 0))) {
        return true;
      }
      Thread.sleep(100);
    }
    return false;
  }

  /** Counts cache entries holding a version older than the database's: must be 0. */
  private int checkAfterDrain(
      RedisClusterCommands<String, String> redis, DemoWorkload workload, KeyScheme keys)
      throws Exception {
    Map<String, Long> db = workload.databaseVersions();
    int stale = 0;
    int present = 0;
    for (int t = 0; t < workload.tenants; t++) {
      for (int a = 0; a < workload.accounts; a++) {
        String tenant = DemoWorkload.tenant(t);
        String account = DemoWorkload.account(a);
        AggregateRef ref = new AggregateRef(tenant, DemoWorkload.TYPE, account);
        String ver = redis.hget(keys.entry(ref, DemoWorkload.VIEW), "ver");
        if (ver == null) {
          continue;
        }
        present++;
        long dbVersion = db.get(DemoWorkload.key(tenant, account));
        if (Long.parseLong(ver) < dbVersion) {
          stale++;
          log.error("stale entry {}: cached version {} < database version {}", ref, ver, dbVersion);
        }
      }
    }
    out.printf(
        "checked %d aggregates against the database: %d cached entries present%n",
        db.size(), present);
    return stale;
  }

  private void printSummary(
      DemoWorkload workload,
      DemoMetrics metrics,
      FreshnessTracker tracker,
      CacheClient cache,
      boolean drained,
      long drainMs,
      int stale) {
    Histogram h = metrics.total();
    CacheClient.Stats cs = cache.stats();
    out.println();
    out.println("summary");
    out.printf("  writes committed          %d%n", workload.writes.sum());
    out.printf(
        "  reads through the cache   %d (hits %d, misses %d)%n",
        workload.reads.sum(), cs.hits(), cs.misses());
    out.printf(
        "  invalidations applied     %d (already newer: %d)%n",
        metrics.applied.sum(), metrics.staleSkipped.sum());
    out.printf(
        "  commit->apply             p50 %d ms, p99 %d ms, max %d ms%n",
        h.getValueAtPercentile(50) / 1000,
        h.getValueAtPercentile(99) / 1000,
        h.getMaxValue() / 1000);
    out.printf("  fills rejected by fence   %d%n", cs.fillsRejected());
    out.printf(
        "  stale reads during run    %d (oldest %d ms: the window the pipeline's lag allows)%n",
        tracker.staleReads(), tracker.maxStalenessMillis());
    out.printf("  dead letters              %d%n", metrics.deadLettered.sum());
    if (workload.dropped.sum() > 0) {
      out.printf("  invalidations dropped     %d (negative control)%n", workload.dropped.sum());
    }
    out.printf(
        "  drained                   %s in %d ms%n", drained ? "yes" : "NO (timed out)", drainMs);
  }

  /**
   * Prints what the fake CDN saw; true when it refused no request and no tag was written after its
   * last purge.
   */
  private boolean printCdnSummary(DemoWorkload workload, FakeCdn cdn, long elapsedMs) {
    long requests = cdn.purgeRequests.sum();
    List<String> staleTags = workload.cdnStaleTags();
    out.printf(
        "  cdn %-10s purges %d in %.1f s of run and drain (%.1f/s), tags purged %d,"
            + " 429s seen %d%n",
        cdn.provider().label(),
        requests,
        elapsedMs / 1000.0,
        requests * 1000.0 / Math.max(1, elapsedMs),
        cdn.tagsPurged.sum(),
        cdn.throttled.sum());
    out.printf(
        "  cdn requests refused      %d%s%n",
        cdn.refused.sum(), cdn.lastRefusal() == null ? "" : " (last: " + cdn.lastRefusal() + ")");
    for (String tag : staleTags.subList(0, Math.min(5, staleTags.size()))) {
      log.error("CDN tag {} was written after its last purge", tag);
    }
    out.printf(
        "cdn tags written after their last purge: %d of %d%n",
        staleTags.size(), workload.cdnWrites.size());
    return cdn.refused.sum() == 0 && staleTags.isEmpty();
  }

  /**
   * Scans every cached entry with the observer's checker (what {@code invalidator verify} does).
   */
  private static Verification.Report verifyAfterDrain(
      Daemon daemon, InvalidatorConfig cfg, DemoWorkload workload) throws java.sql.SQLException {
    try (CacheInspector inspector =
        CacheInspector.create(daemon.redis(), cfg.redis().keyScheme())) {
      return new Verification(
              inspector, new VersionQueries(daemon.dataSource(), cfg.observer().queries()), 5_000)
          .run(
              null,
              DemoWorkload.TYPE,
              (long) workload.tenants * workload.accounts * 2,
              Duration.ofSeconds(1),
              (done, total) -> {});
    }
  }

  /**
   * Waits for the checks still scheduled: the last writes' checks are due the longest grace period
   * after them, and a re-check of an unknown one that long again.
   */
  private void awaitObserver(ConsistencyObserver observer) throws InterruptedException {
    Duration longest = observer.graces().get(observer.graces().size() - 1);
    Duration wait = longest.multipliedBy(2).plusSeconds(2);
    out.printf(
        "waiting up to %d s for the observer's last checks (%d scheduled)...%n",
        wait.toSeconds(), observer.queued());
    long deadline = System.nanoTime() + wait.toNanos();
    while (observer.queued() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    if (observer.queued() > 0) {
      out.printf(
          "%d observer checks still scheduled (re-checks): not counted%n", observer.queued());
    }
  }

  private static boolean portFree(String bind, int port) {
    try (java.net.ServerSocket s = new java.net.ServerSocket()) {
      s.bind(new java.net.InetSocketAddress(bind, port));
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private static Duration parseDuration(String option, String text) {
    try {
      return dev.invalidator.server.config.ConfigLoader.parseDuration(option, text);
    } catch (RuntimeException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(new DemoCommand()), e.getMessage());
    }
  }
}
