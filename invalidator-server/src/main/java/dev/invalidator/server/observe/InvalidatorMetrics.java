package dev.invalidator.server.observe;

import dev.invalidator.cdc.SlotHealth;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.RelayListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Every metric of DESIGN.md "Observability", in one Prometheus registry, fed by the worker and
 * relay listener hooks (counters, histograms) and by {@link MetricsSampler} (gauges that need a
 * query).
 *
 * <p>Design notes. Gauges that need PostgreSQL or Redis are never queried on a scrape: the sampler
 * stores a {@link Sample} and the gauges read it. Ages are stored as instants and computed at
 * scrape time, so an age keeps growing between samples and a failing sampler cannot make a lag look
 * frozen (it over-reports by at most one sample interval once the backlog is gone). Labelled series
 * whose label values are known up front (targets, results, reasons, configured tenants) are
 * registered at start with zero, so {@code rate()} and the alert rules see them before the first
 * event. The figures of the status page (commit-to-apply p50/p99 over the last {@value
 * #WINDOW_SECONDS} s, throughput) come from an HdrHistogram ring rotated every second, not from the
 * Prometheus buckets, so they are exact.
 */
public final class InvalidatorMetrics implements AutoCloseable {
  /** Histogram buckets of commit-to-apply and queue lag: the freshness objectives one can set. */
  public static final List<Duration> SLO_BUCKETS =
      List.of(
          Duration.ofMillis(5),
          Duration.ofMillis(10),
          Duration.ofMillis(25),
          Duration.ofMillis(50),
          Duration.ofMillis(100),
          Duration.ofMillis(250),
          Duration.ofMillis(500),
          Duration.ofSeconds(1),
          Duration.ofMillis(2500),
          Duration.ofSeconds(5),
          Duration.ofSeconds(10),
          Duration.ofSeconds(30),
          Duration.ofSeconds(60),
          Duration.ofSeconds(300));

  /** The window of the status page's percentiles and throughput. */
  public static final int WINDOW_SECONDS = 30;

  /** Breaker states, the {@code state} label of {@code invalidator_circuit_breaker_state}. */
  public static final List<String> BREAKER_STATES = List.of("closed", "open", "half_open");

  /** Dead-letter reasons known up front. */
  public static final List<String> DLQ_REASONS = List.of("retries_exhausted");

  /** Dead-letter reasons of entries that never reached a target (target {@code *}). */
  public static final List<String> DLQ_DECODE_REASONS =
      List.of("poison", "oversized", "invalid", "unknown_event_type", "tenant_violation");

  private final PrometheusMeterRegistry registry;
  private final Clock clock;
  private final List<String> tenants;
  private final List<AutoCloseable> binders = new ArrayList<>();
  private final ConcurrentMap<String, Counter> counters = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, Timer> timers = new ConcurrentHashMap<>();
  private final ConcurrentMap<String, String> breakers = new ConcurrentHashMap<>();
  private final LongAdder appliedEvents = new LongAdder();
  private final LongAdder publishedEvents = new LongAdder();
  private final Recorder commitToApplyMicros = new Recorder(3);
  private final Deque<Histogram> window = new ArrayDeque<>();
  private final Deque<long[]> throughput = new ArrayDeque<>();
  private volatile Sample sample = Sample.EMPTY;
  private volatile SlotHealth cdcSlot;
  private final WorkerListener workerListener = new Worker();
  private final RelayListener relayListener = new Relay();

  /**
   * A registry with the JVM and process binders and every pipeline metric registered.
   *
   * @param targets the names of the worker's targets
   * @param tenants the tenants with their own staleness series (the rest share {@code other})
   */
  public InvalidatorMetrics(Collection<String> targets, List<String> tenants, Clock clock) {
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.tenants = List.copyOf(tenants);
    new JvmMemoryMetrics().bindTo(registry);
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(registry);
    binders.add(gc);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    registerGauges();
    counter("invalidator.relay.published", "Events the relay published to the stream");
    counter("invalidator.relay.quarantined", "Outbox rows the relay could not turn into events");
    for (String loop : List.of("relay", "worker")) {
      counter("invalidator.loop.errors", "Errors caught by a relay or worker loop", "loop", loop);
    }
    for (String source : MetricsSampler.SOURCES) {
      counter(
          "invalidator.sampler.errors", "Failed queries of the metrics sampler", "source", source);
    }
    for (String reason : DLQ_DECODE_REASONS) {
      dlqCounter("*", reason);
    }
    targets.forEach(this::registerTarget);
    queueLag();
  }

  /** The registry, for other binders (CacheClient's {@code fill_rejected_total}). */
  public MeterRegistry registry() {
    return registry;
  }

  /** The Prometheus text exposition of every metric. */
  public String scrape() {
    return registry.scrape();
  }

  /** Feeds the worker's metrics. */
  public WorkerListener workerListener() {
    return workerListener;
  }

  /** Feeds the relay's metrics. */
  public RelayListener relayListener() {
    return relayListener;
  }

  /** Registers the loop-age gauges behind the "stuck relay or worker" alerts. */
  /** Exposes a count kept elsewhere (a background loop's) as a Prometheus counter. */
  public void bindCount(String name, String description, java.util.function.LongSupplier count) {
    FunctionCounter.builder(name, count, c -> c.getAsLong())
        .description(description)
        .register(registry);
  }

  public void bindLoops(Supplier<Instant> relayLastLoop, List<Supplier<Instant>> workerLastLoops) {
    if (relayLastLoop != null) {
      Gauge.builder("invalidator.relay.last.loop.age", () -> ageSeconds(relayLastLoop.get()))
          .description("Seconds since the relay loop last completed an iteration")
          .baseUnit("seconds")
          .register(registry);
    }
    if (!workerLastLoops.isEmpty()) {
      List<Supplier<Instant>> loops = List.copyOf(workerLastLoops);
      Gauge.builder(
              "invalidator.worker.last.loop.age",
              () -> loops.stream().mapToDouble(s -> ageSeconds(s.get())).max().orElse(0))
          .description("Seconds since the slowest worker loop last completed an iteration")
          .baseUnit("seconds")
          .register(registry);
    }
  }

  /** The {@code reason} label values of {@code invalidator_readiness_failures_total}. */
  public static final List<String> READINESS_REASONS =
      List.of("unreachable", "timeout", "not_ready", "error");

  /**
   * Registers the readiness series of one sampled check ({@code postgres}, {@code redis}, {@code
   * kafka}): {@code invalidator_ready{component}}, 1 while {@code ready} says so (what {@code
   * /health/ready} answers for it), and {@code invalidator_readiness_failures_total{component,
   * reason}} at 0 for every reason of {@link #READINESS_REASONS}, so that {@code increase()} sees
   * the first failure.
   */
  public void bindReadiness(String component, java.util.function.BooleanSupplier ready) {
    Gauge.builder("invalidator.ready", ready, r -> r.getAsBoolean() ? 1 : 0)
        .description("1 while the component's readiness check passes (as /health/ready), else 0")
        .tag("component", component)
        .strongReference(true)
        .register(registry);
    for (String reason : READINESS_REASONS) {
      readinessFailureCounter(component, reason);
    }
  }

  /** Counts one failed sample of a readiness check; {@code reason} is one of the reasons. */
  public void readinessFailed(String component, String reason) {
    readinessFailureCounter(component, reason).increment();
  }

  private Counter readinessFailureCounter(String component, String reason) {
    return counter(
        "invalidator.readiness.failures",
        "Failed samples of a readiness check, by component and reason class",
        "component",
        component,
        "reason",
        reason);
  }

  /**
   * Registers the CDC relay's replication-slot gauges, fed by {@link MetricsSampler} from {@code
   * pg_replication_slots}: {@code invalidator_cdc_slot_lag_bytes} ({@code
   * pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)}), {@code
   * invalidator_cdc_slot_retained_bytes} (from {@code restart_lsn}), {@code
   * invalidator_cdc_slot_active}, {@code invalidator_cdc_slot_wal_status{status}} and {@code
   * invalidator_cdc_slot_safe_wal_size_bytes} ({@code safe_wal_size}; NaN while PostgreSQL reports
   * none: no {@code max_slot_wal_keep_size}, or the slot lost or missing).
   */
  public void bindCdcSlot(String slotName) {
    Gauge.builder("invalidator.cdc.slot.lag", this, m -> slot(m).unconfirmedBytes())
        .description(
            "WAL written since the CDC relay's slot last confirmed a position (any table's writes"
                + " count), from pg_replication_slots.confirmed_flush_lsn")
        .baseUnit("bytes")
        .tag("slot", slotName)
        .register(registry);
    Gauge.builder("invalidator.cdc.slot.retained", this, m -> slot(m).retainedWalBytes())
        .description("WAL PostgreSQL keeps for the CDC relay's slot, from its restart_lsn")
        .baseUnit("bytes")
        .tag("slot", slotName)
        .register(registry);
    Gauge.builder("invalidator.cdc.slot.active", this, m -> slot(m).active() ? 1 : 0)
        .description("1 while a walsender streams from the CDC relay's slot, else 0")
        .tag("slot", slotName)
        .register(registry);
    Gauge.builder(
            "invalidator.cdc.slot.safe.wal.size",
            this,
            m -> {
              Long safe = slot(m).safeWalSizeBytes();
              return safe == null ? Double.NaN : safe;
            })
        .description(
            "WAL that can still be written before the CDC slot's wal_status becomes lost"
                + " (pg_replication_slots.safe_wal_size); NaN when unlimited"
                + " (max_slot_wal_keep_size = -1), lost or missing")
        .baseUnit("bytes")
        .tag("slot", slotName)
        .register(registry);
    for (String status : SlotHealth.WAL_STATUSES) {
      Gauge.builder(
              "invalidator.cdc.slot.wal.status",
              this,
              m -> {
                SlotHealth h = m.cdcSlot;
                return h != null && status.equals(h.walStatusOrMissing()) ? 1 : 0;
              })
          .description(
              "1 for the CDC slot's wal_status (reserved, extended, unreserved, lost) or missing")
          .tags("slot", slotName, "status", status)
          .register(registry);
    }
  }

  private static SlotHealth slot(InvalidatorMetrics m) {
    SlotHealth h = m.cdcSlot;
    return h != null ? h : new SlotHealth("", false, false, 0, 0, null, null, null);
  }

  /** Stores the CDC slot's state for its gauges (called by {@link MetricsSampler}). */
  void cdcSlot(SlotHealth health) {
    this.cdcSlot = health;
  }

  /** The CDC slot's last sampled state, or null (no CDC relay, or not sampled yet). */
  public SlotHealth cdcSlot() {
    return cdcSlot;
  }

  /** Stores a new sample for the gauges (called by {@link MetricsSampler}). */
  void update(Sample next) {
    this.sample = next;
  }

  /** The latest sample. */
  Sample sample() {
    return sample;
  }

  /**
   * Registers {@code invalidator_stream_pending} and {@code invalidator_stream_lag_entries} of one
   * consumer group, tagged {@code group}: the workers' group ({@code main}, read from the sample's
   * stream figures) or the group of a target beyond Redis (read from {@link
   * Sample#targetGroups()}). Idempotent.
   */
  public void bindStreamGroup(String group, boolean main) {
    java.util.function.ToDoubleFunction<InvalidatorMetrics> pending =
        main
            ? m -> m.sample.streamPending()
            : m -> m.sample.targetGroups().getOrDefault(group, GroupBacklog.NONE).pending();
    java.util.function.ToDoubleFunction<InvalidatorMetrics> lag =
        main
            ? m -> m.sample.streamLag()
            : m -> m.sample.targetGroups().getOrDefault(group, GroupBacklog.NONE).lag();
    Gauge.builder("invalidator.stream.pending", this, pending)
        .description("Stream entries delivered to the consumer group and not yet acknowledged")
        .tag("group", group)
        .register(registry);
    Gauge.builder("invalidator.stream.lag.entries", this, lag)
        .description("Stream entries not yet delivered to the consumer group")
        .tag("group", group)
        .register(registry);
  }

  /** Counts a failure of a sampler query. */
  void samplerError(String source) {
    counters.get(key("invalidator.sampler.errors", "source", source)).increment();
  }

  /** Moves the status page's window on by one second; called every second by the sampler. */
  void rotate() {
    Histogram h = commitToApplyMicros.getIntervalHistogram();
    synchronized (window) {
      window.addLast(h);
      while (window.size() > WINDOW_SECONDS) {
        window.removeFirst();
      }
      throughput.addLast(
          new long[] {System.nanoTime(), appliedEvents.sum(), publishedEvents.sum()});
      while (throughput.size() > 11) {
        throughput.removeFirst();
      }
    }
  }

  /**
   * {@code /api/status}: the figures of {@code invalidator status} from the last sample, then the
   * live ones ({@link #liveFigures()}).
   */
  public Map<String, Object> status(String stream, String group) {
    Sample s = sample;
    Map<String, Object> out =
        StatusFigures.of(
            s.outboxPending(),
            Duration.ofMillis(Math.round(ageSeconds(s.outboxOldestCreatedAt()) * 1000)),
            stream,
            s.streamLength(),
            group,
            s.streamPending(),
            s.streamLag(),
            s.pendingByConsumer(),
            s.dlqDepth());
    List<Map<String, Object>> groups = new ArrayList<>();
    new java.util.TreeMap<>(s.targetGroups())
        .forEach(
            (g, b) -> {
              Map<String, Object> row = new LinkedHashMap<>();
              row.put("group", g);
              row.put("pending", b.pending());
              row.put("lag_entries", b.lag());
              groups.add(row);
            });
    out.put("target_groups", groups);
    out.put("sampled_at", s.sampledAt() == null ? null : s.sampledAt().toString());
    out.putAll(liveFigures());
    return out;
  }

  /** The live figures of the status page and {@code /api/status}. */
  public Map<String, Object> liveFigures() {
    Map<String, Object> out = new LinkedHashMap<>();
    Histogram merged = new Histogram(3);
    double appliedRate = 0;
    double publishedRate = 0;
    synchronized (window) {
      window.forEach(merged::add);
      if (throughput.size() >= 2) {
        long[] first = throughput.getFirst();
        long[] last = throughput.getLast();
        double secs = (last[0] - first[0]) / 1e9;
        if (secs > 0) {
          appliedRate = (last[1] - first[1]) / secs;
          publishedRate = (last[2] - first[2]) / secs;
        }
      }
    }
    out.put("applied_total", appliedEvents.sum());
    out.put("relay_published_total", publishedEvents.sum());
    out.put("applied_per_second", round(appliedRate));
    out.put("published_per_second", round(publishedRate));
    Map<String, Object> c2a = new LinkedHashMap<>();
    c2a.put("window_seconds", WINDOW_SECONDS);
    c2a.put("count", merged.getTotalCount());
    c2a.put("p50_ms", merged.getTotalCount() == 0 ? null : merged.getValueAtPercentile(50) / 1000);
    c2a.put("p99_ms", merged.getTotalCount() == 0 ? null : merged.getValueAtPercentile(99) / 1000);
    out.put("commit_to_apply", c2a);
    List<Map<String, Object>> staleness = new ArrayList<>();
    stalenessSeries()
        .forEach(
            (tenant, seconds) -> {
              Map<String, Object> row = new LinkedHashMap<>();
              row.put("tenant", tenant);
              row.put("seconds", round(seconds));
              staleness.add(row);
            });
    staleness.sort(
        Comparator.comparingDouble((Map<String, Object> r) -> (Double) r.get("seconds"))
            .reversed());
    out.put("tenant_staleness_seconds", staleness);
    out.put("tenant_staleness_truncated", sample.stalenessTruncated());
    out.put("breakers", new java.util.TreeMap<>(breakers));
    return out;
  }

  /** Current staleness per series: every configured tenant, then {@code other}. */
  Map<String, Double> stalenessSeries() {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String t : tenants) {
      out.put(t, ageSeconds(sample.oldestUnapplied().get(t)));
    }
    out.put("other", otherStaleness());
    return out;
  }

  private double otherStaleness() {
    Instant oldest = null;
    for (Map.Entry<String, Instant> e : sample.oldestUnapplied().entrySet()) {
      if (!tenants.contains(e.getKey()) && (oldest == null || e.getValue().isBefore(oldest))) {
        oldest = e.getValue();
      }
    }
    return ageSeconds(oldest);
  }

  private void registerGauges() {
    Gauge.builder("invalidator.outbox.pending", this, m -> m.sample.outboxPending())
        .description("Outbox rows not yet relayed")
        .register(registry);
    Gauge.builder(
            "invalidator.outbox.oldest.age",
            this,
            m -> m.ageSeconds(m.sample.outboxOldestCreatedAt()))
        .description("Age of the oldest outbox row not yet relayed (0 when none)")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("invalidator.dlq.depth", this, m -> m.sample.dlqDepth())
        .description("Entries in the dead-letter stream")
        .register(registry);
    for (String t : tenants) {
      stalenessGauge(t, () -> ageSeconds(sample.oldestUnapplied().get(t)));
    }
    stalenessGauge("other", this::otherStaleness);
  }

  private void stalenessGauge(String tenant, Supplier<Number> value) {
    Gauge.builder("invalidator.tenant.staleness", value)
        .description(
            "Age of the tenant's oldest committed event not yet applied to every target (0 when"
                + " none); unlisted tenants share the series other (their maximum)")
        .baseUnit("seconds")
        .tag("tenant", tenant)
        .register(registry);
  }

  private void registerTarget(String target) {
    for (ApplyResult.Status s : ApplyResult.Status.values()) {
      if (s != ApplyResult.Status.FAILED) {
        appliedCounter(target, s);
      }
    }
    counter(
        "invalidator.apply.failures", "Failed applies of an event to a target", "target", target);
    counter(
        "invalidator.retries",
        "Failed entries taken back for another delivery after their backoff (any target)");
    counter(
        "invalidator.dedupe.hits",
        "Events a target recognised as already processed (by event id)",
        "target",
        target);
    for (String reason : DLQ_REASONS) {
      dlqCounter(target, reason);
    }
    commitToApply(target);
    breakers.putIfAbsent(target, "closed");
    for (String state : BREAKER_STATES) {
      Gauge.builder(
              "invalidator.circuit.breaker.state", () -> state.equals(breakers.get(target)) ? 1 : 0)
          .description("1 for the current state of a target's circuit breaker, else 0")
          .tags("target", target, "state", state)
          .register(registry);
    }
  }

  private void ensureTarget(String target) {
    if (!timers.containsKey(key("invalidator.commit.to.apply", "target", target))) {
      synchronized (this) {
        if (!timers.containsKey(key("invalidator.commit.to.apply", "target", target))) {
          registerTarget(target);
        }
      }
    }
  }

  private Counter appliedCounter(String target, ApplyResult.Status status) {
    return counter(
        "invalidator.applied",
        "Events applied to a target, by result (applied, stale_skipped, duplicate)",
        "target",
        target,
        "result",
        status.name().toLowerCase(java.util.Locale.ROOT));
  }

  private Counter dlqCounter(String target, String reason) {
    return counter(
        "invalidator.dlq", "Entries sent to the dead letters", "target", target, "reason", reason);
  }

  private Timer commitToApply(String target) {
    return timers.computeIfAbsent(
        key("invalidator.commit.to.apply", "target", target),
        k ->
            Timer.builder("invalidator.commit.to.apply")
                .description(
                    "Time from the outbox row's created_at (inside the committing transaction) to"
                        + " the target's apply")
                .tag("target", target)
                .serviceLevelObjectives(SLO_BUCKETS.toArray(Duration[]::new))
                .register(registry));
  }

  private Timer queueLag() {
    return timers.computeIfAbsent(
        "invalidator.queue.lag",
        k ->
            Timer.builder("invalidator.queue.lag")
                .description("Time from the relay's publish to a worker's consume")
                .serviceLevelObjectives(SLO_BUCKETS.toArray(Duration[]::new))
                .register(registry));
  }

  private Counter counter(String name, String help, String... tags) {
    return counters.computeIfAbsent(
        key(name, tags),
        k -> Counter.builder(name).description(help).tags(tags).register(registry));
  }

  private static String key(String name, String... tags) {
    return name + Arrays.toString(tags);
  }

  private double ageSeconds(Instant since) {
    if (since == null) {
      return 0;
    }
    double s = (clock.millis() - since.toEpochMilli()) / 1000.0;
    return Math.max(0, s);
  }

  private static double round(double d) {
    return Math.round(d * 1000) / 1000.0;
  }

  @Override
  public void close() {
    for (AutoCloseable c : binders) {
      try {
        c.close();
      } catch (Exception ignored) {
        // closing a binder only unregisters listeners
      }
    }
    registry.close();
  }

  private final class Worker implements WorkerListener {
    @Override
    public void applied(
        String target,
        InvalidationEvent event,
        ApplyResult result,
        Instant committedAt,
        Instant appliedAt) {
      ensureTarget(target);
      appliedCounter(target, result.status()).increment();
      appliedEvents.increment();
      if (result.status() == ApplyResult.Status.DUPLICATE) {
        counter("invalidator.dedupe.hits", "", "target", target).increment();
      }
      if (committedAt != null) {
        Duration d = Duration.between(committedAt, appliedAt);
        if (d.isNegative()) {
          d = Duration.ZERO;
        }
        commitToApply(target).record(d);
        commitToApplyMicros.recordValue(Math.min(d.toNanos() / 1000, 3_600_000_000L));
      }
    }

    @Override
    public void failed(String target, Delivery delivery, RuntimeException error) {
      ensureTarget(target);
      counter("invalidator.apply.failures", "", "target", target).increment();
    }

    @Override
    public void retried(Delivery delivery) {
      counter(
              "invalidator.retries",
              "Failed entries taken back for another delivery after their backoff (any target)")
          .increment();
    }

    @Override
    public void circuitStateChanged(String target, String fromState, String toState) {
      ensureTarget(target);
      breakers.put(target, toState.toLowerCase(java.util.Locale.ROOT));
    }

    @Override
    public void deadLettered(DeadLetter deadLetter) {
      dlqCounter(deadLetter.target(), deadLetter.reason()).increment();
    }

    @Override
    public void consumed(Delivery delivery, long lagMillis) {
      queueLag().record(Duration.ofMillis(lagMillis));
    }

    @Override
    public void loopError(Throwable error) {
      counter("invalidator.loop.errors", "", "loop", "worker").increment();
    }
  }

  private final class Relay implements RelayListener {
    @Override
    public void published(int count, Duration oldestAgeInBatch) {
      counter("invalidator.relay.published", "").increment(count);
      publishedEvents.add(count);
    }

    @Override
    public void quarantined(int count) {
      counter("invalidator.relay.quarantined", "").increment(count);
    }

    @Override
    public void loopError(Throwable error) {
      counter("invalidator.loop.errors", "", "loop", "relay").increment();
    }
  }

  /**
   * What the sampler read last.
   *
   * @param oldestUnapplied per tenant, the commit time of its oldest event not yet applied
   */
  record Sample(
      Instant sampledAt,
      long outboxPending,
      Instant outboxOldestCreatedAt,
      long outboxQuarantined,
      long streamLength,
      long streamPending,
      long streamLag,
      Map<String, Long> pendingByConsumer,
      long dlqDepth,
      Map<String, Instant> oldestUnapplied,
      boolean stalenessTruncated,
      Map<String, GroupBacklog> targetGroups) {
    static final Sample EMPTY =
        new Sample(null, 0, null, 0, 0, 0, 0, Map.of(), 0, Map.of(), false, Map.of());

    Sample {
      pendingByConsumer = Map.copyOf(pendingByConsumer);
      oldestUnapplied = Map.copyOf(oldestUnapplied);
      targetGroups = Map.copyOf(targetGroups);
    }
  }

  /**
   * Pending entries and lag of the consumer group of a target beyond Redis (its own group on the
   * same stream or topic), as last sampled.
   */
  record GroupBacklog(long pending, long lag) {
    static final GroupBacklog NONE = new GroupBacklog(0, 0);
  }
}
