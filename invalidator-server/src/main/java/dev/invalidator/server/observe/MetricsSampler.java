package dev.invalidator.server.observe;

import dev.invalidator.cdc.SlotHealth;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.StreamStats;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refreshes the gauges that need a query (outbox, stream, dead letters, tenant staleness) on its
 * own thread every {@code observability.sampleInterval}, so a scrape never waits on PostgreSQL or
 * Redis and a burst of scrapes cannot load them. Each source is read on its own: one failing
 * (counted in {@code invalidator_sampler_errors_total{source}}, logged at WARN) leaves the others
 * and the previous values of its own gauges, whose ages keep growing. Also moves the status page's
 * one-second window on.
 *
 * <p>Readiness checks that ask a remote cluster ({@link #readiness}) are sampled too, on a thread
 * of their own so a gauge read that hangs on a dead server never delays them: {@code /health/ready}
 * answers from their last result and never calls the cluster per request.
 */
public final class MetricsSampler implements AutoCloseable {
  /** The {@code source} label values of {@code invalidator_sampler_errors_total}. */
  public static final List<String> SOURCES = List.of("outbox", "stream", "dlq", "staleness", "cdc");

  private static final Logger log = LoggerFactory.getLogger(MetricsSampler.class);

  private final InvalidatorMetrics metrics;
  private final DataSource dataSource;
  private final OutboxTable table;
  private final Supplier<StreamStats> streamStats;
  private final java.util.function.LongSupplier dlqDepth;
  private final TenantStaleness staleness;
  private final Clock clock;
  private final ScheduledExecutorService scheduler;
  private final List<SampledCheck> readiness = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile Supplier<SlotHealth> cdcSlot;
  private final Map<String, Supplier<StreamStats>> targetGroups =
      new java.util.concurrent.ConcurrentSkipListMap<>();
  private volatile ScheduledExecutorService readinessScheduler;
  private volatile Duration interval = Duration.ofSeconds(5);

  /** Builds the sampler of the Redis stream transport; {@link #start(Duration)} schedules it. */
  public MetricsSampler(
      InvalidatorMetrics metrics,
      DataSource dataSource,
      OutboxTable table,
      Supplier<StreamStats> streamStats,
      RedisDeadLetters deadLetters,
      dev.invalidator.redis.RedisConnection<String, String> redis,
      String stream,
      String group,
      Clock clock) {
    this(
        metrics,
        dataSource,
        table,
        streamStats,
        Objects.requireNonNull(deadLetters, "deadLetters")::depth,
        Objects.requireNonNull(redis, "redis"),
        stream,
        group,
        clock);
  }

  /**
   * Builds the sampler of any transport: {@code streamStats} and {@code dlqDepth} read it (on
   * Kafka, the group's lag and the dead-letter topic). With {@code redis} null (Kafka) tenant
   * staleness counts unrelayed outbox rows only: a record on the topic has no cheap per-tenant
   * scan.
   */
  public MetricsSampler(
      InvalidatorMetrics metrics,
      DataSource dataSource,
      OutboxTable table,
      Supplier<StreamStats> streamStats,
      java.util.function.LongSupplier dlqDepth,
      dev.invalidator.redis.RedisConnection<String, String> redis,
      String stream,
      String group,
      Clock clock) {
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.table = Objects.requireNonNull(table, "table");
    this.streamStats = Objects.requireNonNull(streamStats, "streamStats");
    this.dlqDepth = Objects.requireNonNull(dlqDepth, "dlqDepth");
    this.staleness = new TenantStaleness(dataSource, table, redis, stream, group);
    metrics.bindStreamGroup(group, true);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.scheduler =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "metrics-sampler");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Also samples a CDC relay's replication slot (see {@link InvalidatorMetrics#bindCdcSlot}); call
   * before {@link #start(Duration)}.
   */
  public MetricsSampler cdcSlot(Supplier<SlotHealth> slot) {
    this.cdcSlot = Objects.requireNonNull(slot, "slot");
    return this;
  }

  /**
   * Also samples the consumer group of a target beyond Redis ({@code <worker.group>-<target>}, on
   * Kafka {@code <kafka.groupId>-<target>}): its pending entries and lag become the {@code group}
   * series of {@code invalidator_stream_pending} and {@code invalidator_stream_lag_entries} and a
   * row of {@code /api/status}'s {@code target_groups}. Call before {@link #start(Duration)}.
   */
  public MetricsSampler targetGroup(String group, Supplier<StreamStats> stats) {
    targetGroups.put(
        Objects.requireNonNull(group, "group"), Objects.requireNonNull(stats, "stats"));
    metrics.bindStreamGroup(group, false);
    return this;
  }

  /**
   * A readiness check sampled every interval on a readiness thread of its own: {@code probe}
   * returns a short description when healthy and throws when not, and should bound its own wait.
   * Each sample sets {@code invalidator_ready{component=name}} and each failed one counts in {@code
   * invalidator_readiness_failures_total{component=name,reason}}. The check returned answers from
   * the last result; it fails before the first sample and when the last one is older than twice the
   * interval plus 10 s (the probe itself hangs). Call before {@link #start(Duration)}.
   */
  public AdminServer.Check readiness(String name, java.util.concurrent.Callable<String> probe) {
    SampledCheck c = new SampledCheck(name, Objects.requireNonNull(probe, "probe"));
    readiness.add(c);
    metrics.bindReadiness(name, c::ready);
    return new AdminServer.Check(name, c::last);
  }

  /** Samples once now, then every {@code interval}; rotates the page's window every second. */
  public MetricsSampler start(Duration interval) {
    this.interval = interval;
    scheduler.scheduleWithFixedDelay(
        this::sampleQuietly, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    scheduler.scheduleAtFixedRate(metrics::rotate, 1, 1, TimeUnit.SECONDS);
    if (!readiness.isEmpty()) {
      // A thread per check: a probe waiting on a server that went away delays no other check.
      java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
      readinessScheduler =
          Executors.newScheduledThreadPool(
              readiness.size(),
              r -> {
                Thread t = new Thread(r, "readiness-sampler-" + n.getAndIncrement());
                t.setDaemon(true);
                return t;
              });
      java.util.concurrent.CountDownLatch first =
          new java.util.concurrent.CountDownLatch(readiness.size());
      for (SampledCheck c : readiness) {
        readinessScheduler.schedule(
            () -> {
              try {
                c.sample();
              } finally {
                first.countDown();
              }
            },
            0,
            TimeUnit.MILLISECONDS);
        readinessScheduler.scheduleWithFixedDelay(
            c::sample, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
      }
      // /health/ready answers from the first samples as soon as the process serves; a probe that
      // takes longer than FIRST_SAMPLE_WAIT answers "not sampled yet" until it returns.
      try {
        first.await(FIRST_SAMPLE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
    }
    return this;
  }

  /** How long {@link #start(Duration)} waits for the readiness checks' first samples. */
  static final Duration FIRST_SAMPLE_WAIT = Duration.ofSeconds(2);

  /**
   * The {@code reason} label of a failed readiness probe (see {@link
   * InvalidatorMetrics#READINESS_REASONS}), from the exception and its causes: {@code timeout} (the
   * server did not answer in time), {@code unreachable} (no connection), {@code not_ready} (the
   * server answered and the check found it not ready, such as a Kafka group rebalancing), else
   * {@code error}.
   */
  static String reasonClass(Throwable ex) {
    // A pool's "timed out" caused by a refused connection is the server being unreachable.
    for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause()) {
      String msg = String.valueOf(t.getMessage());
      if (t instanceof java.net.ConnectException
          || t instanceof java.net.UnknownHostException
          || msg.contains("refused")
          || msg.contains("not reachable")) {
        return "unreachable";
      }
    }
    for (Throwable t = ex; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t.getClass().getSimpleName().contains("Timeout")
          || String.valueOf(t.getMessage()).contains("timed out")) {
        return "timeout";
      }
    }
    return ex instanceof IllegalStateException && ex.getCause() == null ? "not_ready" : "error";
  }

  /** One readiness probe and its last result. */
  private final class SampledCheck {
    private final String name;
    private final java.util.concurrent.Callable<String> probe;
    private volatile Instant at;
    private volatile String detail;
    private volatile String failure;

    SampledCheck(String name, java.util.concurrent.Callable<String> probe) {
      this.name = name;
      this.probe = probe;
    }

    void sample() {
      String before = failure;
      try {
        detail = probe.call();
        failure = null;
        if (before != null) {
          log.info("readiness check {} passes again: {}", name, detail);
        }
      } catch (Exception ex) {
        failure = String.valueOf(ex.getMessage());
        String reason = reasonClass(ex);
        metrics.readinessFailed(name, reason);
        if (before == null) {
          log.warn("readiness check {} fails ({}): {}", name, reason, failure);
        }
      }
      at = clock.instant();
    }

    /** What {@code /health/ready} answers for this check: sampled, fresh and passing. */
    boolean ready() {
      try {
        last();
        return true;
      } catch (IllegalStateException ex) {
        return false;
      }
    }

    String last() {
      Instant when = at;
      if (when == null) {
        throw new IllegalStateException(name + ": not sampled yet");
      }
      Duration age = Duration.between(when, clock.instant());
      if (age.compareTo(interval.multipliedBy(2).plusSeconds(10)) > 0) {
        throw new IllegalStateException(
            name + ": last sampled " + age.toSeconds() + " s ago (the probe hangs)");
      }
      String f = failure;
      if (f != null) {
        throw new IllegalStateException(f);
      }
      return detail;
    }
  }

  private void sampleQuietly() {
    try {
      sampleOnce();
    } catch (RuntimeException ex) {
      log.warn("metrics sample failed: {}", ex.toString(), ex);
    }
  }

  /** Reads every source once and publishes the sample. */
  public void sampleOnce() {
    InvalidatorMetrics.Sample prev = metrics.sample();
    long outboxPending = prev.outboxPending();
    Instant outboxOldest = prev.outboxOldestCreatedAt();
    long quarantined = prev.outboxQuarantined();
    try {
      OutboxStats o = OutboxStats.read(dataSource, table, clock);
      outboxPending = o.pending();
      outboxOldest = o.oldestPendingCreatedAt();
      quarantined = o.quarantined();
    } catch (RuntimeException ex) {
      failed("outbox", ex);
    }
    long length = prev.streamLength();
    long pending = prev.streamPending();
    long lag = prev.streamLag();
    Map<String, Long> byConsumer = prev.pendingByConsumer();
    try {
      StreamStats s = streamStats.get();
      length = s.length();
      pending = s.pending();
      lag = Math.max(0, s.lag());
      byConsumer = s.pendingPerConsumer();
    } catch (RuntimeException ex) {
      failed("stream", ex);
    }
    Map<String, InvalidatorMetrics.GroupBacklog> groups =
        new java.util.HashMap<>(prev.targetGroups());
    for (Map.Entry<String, Supplier<StreamStats>> g : targetGroups.entrySet()) {
      try {
        StreamStats s = g.getValue().get();
        groups.put(
            g.getKey(), new InvalidatorMetrics.GroupBacklog(s.pending(), Math.max(0, s.lag())));
      } catch (RuntimeException ex) {
        failed("stream", ex);
      }
    }
    long dlq = prev.dlqDepth();
    try {
      dlq = dlqDepth.getAsLong();
    } catch (RuntimeException ex) {
      failed("dlq", ex);
    }
    Supplier<SlotHealth> slot = cdcSlot;
    if (slot != null) {
      try {
        metrics.cdcSlot(slot.get());
      } catch (RuntimeException ex) {
        failed("cdc", ex);
      }
    }
    Map<String, Instant> oldest = prev.oldestUnapplied();
    boolean truncated = prev.stalenessTruncated();
    try {
      TenantStaleness.Result r = staleness.read();
      oldest = r.oldestUnapplied();
      truncated = r.truncated();
    } catch (Exception ex) {
      failed("staleness", ex);
    }
    metrics.update(
        new InvalidatorMetrics.Sample(
            clock.instant(),
            outboxPending,
            outboxOldest,
            quarantined,
            length,
            pending,
            lag,
            byConsumer,
            dlq,
            oldest,
            truncated,
            groups));
  }

  private void failed(String source, Exception ex) {
    metrics.samplerError(source);
    log.warn("metrics sampler: reading {} failed: {}", source, ex.toString());
  }

  @Override
  public void close() {
    ScheduledExecutorService r = readinessScheduler;
    if (r != null) {
      r.shutdownNow();
    }
    scheduler.shutdownNow();
    try {
      scheduler.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
  }
}
