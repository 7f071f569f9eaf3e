package dev.invalidator.server;

import dev.invalidator.cdc.CdcRelay;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.PollingRelay;
import dev.invalidator.redis.NearCacheHeartbeat;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.VersionGatedRedisTarget;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.observe.AdminServer;
import dev.invalidator.server.observe.DeadLetterAdmin;
import dev.invalidator.server.observe.DeadLetterApi;
import dev.invalidator.server.observe.InvalidatorMetrics;
import dev.invalidator.server.observe.MetricsSampler;
import io.opentelemetry.api.OpenTelemetry;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires metrics, tracing, the sampler and the admin HTTP server around a {@link Pipeline}: {@link
 * #create} before the pipeline (it needs the listeners and spans), {@link #start} after it.
 */
final class Observability implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Observability.class);

  /** How long one {@code /api/dlq} call on Kafka waits for the cluster. */
  static final Duration DLQ_TIMEOUT = Duration.ofSeconds(5);

  /** How long the Redis readiness probe waits for its PING (Lettuce's default is 60 s). */
  static final Duration REDIS_PING_TIMEOUT = Duration.ofSeconds(2);

  private final InvalidatorConfig cfg;
  private final InvalidatorMetrics metrics;
  private final OpenTelemetry openTelemetry;
  private final MessagingSpans spans;
  private final Clock clock;
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private AdminServer admin;
  private Supplier<java.util.Map<String, Object>> consistency;

  private Observability(
      InvalidatorConfig cfg, Daemon.Role role, OpenTelemetry openTelemetry, Clock clock) {
    this.cfg = cfg;
    this.clock = clock;
    this.openTelemetry = openTelemetry;
    this.spans = MessagingSpans.create(openTelemetry, "redis");
    this.metrics =
        new InvalidatorMetrics(
            role.worker() ? List.of(VersionGatedRedisTarget.NAME) : List.of(),
            cfg.observability().tenants(),
            clock);
  }

  static Observability create(
      InvalidatorConfig cfg, Daemon.Role role, OpenTelemetry openTelemetry, Clock clock) {
    return new Observability(cfg, role, openTelemetry, clock);
  }

  InvalidatorMetrics metrics() {
    return metrics;
  }

  MessagingSpans spans() {
    return spans;
  }

  OpenTelemetry openTelemetry() {
    return openTelemetry;
  }

  /** Serves {@code /api/consistency} from {@code report} (call before {@link #start}). */
  void consistency(Supplier<java.util.Map<String, Object>> report) {
    this.consistency = report;
  }

  /** Starts the sampler and the admin HTTP server for {@code pipeline}. */
  AdminServer start(Servers servers, Pipeline pipeline) {
    return start(servers, pipeline, false);
  }

  /**
   * Starts the sampler and the admin HTTP server for {@code pipeline}; with {@code anyFreePort}, a
   * busy {@code admin.port} falls back to a free one (the demo) instead of failing.
   */
  AdminServer start(Servers servers, Pipeline pipeline, boolean anyFreePort) {
    return start(servers, pipeline, anyFreePort, true);
  }

  /**
   * As {@link #start(Servers, Pipeline, boolean)}; without {@code serve}, only the sampler: no
   * admin HTTP server (a daemon embedded in an application), and null is returned.
   */
  AdminServer start(Servers servers, Pipeline pipeline, boolean anyFreePort, boolean serve) {
    KeyScheme keys = cfg.redis().keyScheme();
    OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    PollingRelay relay = pipeline.relay();
    List<Supplier<Instant>> workerLoops = new ArrayList<>();
    for (InvalidationWorker w : pipeline.workers()) {
      workerLoops.add(w::lastLoop);
    }
    CdcRelay cdc = pipeline.cdc();
    // In CDC mode the relay's "loop" is the engine: its last batch or heartbeat.
    metrics.bindLoops(
        relay != null ? relay::lastLoop : cdc != null ? cdc::lastActivity : null, workerLoops);
    if (cdc != null) {
      metrics.bindCdcSlot(cdc.slotName());
    }
    RedisLossRecovery recovery = pipeline.recovery();
    if (recovery != null) {
      metrics.bindCount(
          "invalidator.recovery.check.failures",
          "Failed checks of the Redis-loss recovery loop (each retried with backoff)",
          recovery::checkFailures);
      metrics.bindCount(
          "invalidator.recovery.recoveries",
          "Redis data losses this process recovered from (stream recreated, outbox replayed)",
          recovery::recoveries);
    }
    NearCacheHeartbeat heartbeat = pipeline.heartbeat();
    if (heartbeat != null) {
      metrics.bindCount(
          "invalidator.near.cache.heartbeat.failures",
          "Near-cache heartbeat rounds that failed (subscribers drop their near caches meanwhile)",
          heartbeat::failures);
    }
    MetricsSampler sampler;
    KafkaTransport kafka = pipeline.kafka();
    if (kafka != null) {
      // Same gauges, read from the consumer group's committed offsets and the dead-letter topic.
      KafkaTransport statsTransport = new KafkaTransport(cfg.kafka());
      closeables.add(statsTransport);
      dev.invalidator.kafka.KafkaDeadLetterAdmin dlt = statsTransport.deadLetterAdmin();
      sampler =
          new MetricsSampler(
              metrics,
              servers.dataSource(),
              table,
              () -> statsTransport.stats(kafka.group()),
              dlt::depth,
              null,
              kafka.topic(),
              kafka.group(),
              clock);
      for (String group : pipeline.targetGroups()) {
        sampler.targetGroup(group, () -> statsTransport.stats(group));
      }
    } else {
      RedisStreamSource statsSource =
          RedisStreamSource.builder(servers.connector(), keys)
              .group(cfg.worker().group())
              .consumer("metrics-sampler")
              .build();
      closeables.add(statsSource);
      RedisDeadLetters deadLetters = new RedisDeadLetters(servers.connection(), keys);
      sampler =
          new MetricsSampler(
              metrics,
              servers.dataSource(),
              table,
              statsSource::stats,
              deadLetters,
              servers.connection(),
              keys.stream(),
              cfg.worker().group(),
              clock);
      for (String group : pipeline.targetGroups()) {
        RedisStreamSource groupStats =
            RedisStreamSource.builder(servers.connector(), keys)
                .group(group)
                .consumer("metrics-sampler")
                .build();
        closeables.add(groupStats);
        sampler.targetGroup(group, groupStats::stats);
      }
    }
    if (cdc != null) {
      sampler.cdcSlot(cdc::slotHealth);
    }
    // Server checks are sampled on threads of their own (every observability.sampleInterval), so
    // a probe every second from an orchestrator never turns into requests to the servers, and a
    // server that went away (a pool waiting 10 s for a connection, a command waiting for its
    // reply) never holds the admin server's two threads. Each sample feeds invalidator_ready and
    // invalidator_readiness_failures_total.
    List<AdminServer.Check> checks = new ArrayList<>();
    checks.add(
        sampler.readiness(
            "postgres",
            () -> {
              try (Connection c = servers.dataSource().getConnection()) {
                if (!c.isValid(2)) {
                  throw new IllegalStateException("PostgreSQL connection is not valid");
                }
              }
              return "reachable";
            }));
    checks.add(
        sampler.readiness(
            "redis",
            () -> {
              if (!servers.connection().stateful().isOpen()) {
                throw new IllegalStateException(
                    "Redis at " + cfg.redis().maskedUrl() + " is not reachable (reconnecting)");
              }
              String pong =
                  servers
                      .connection()
                      .async()
                      .ping()
                      .get(REDIS_PING_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
              return "reachable (" + pong + ")";
            }));
    // Kafka's readiness asks the cluster (brokers, leaders, the group's assignment).
    AdminServer.Check kafkaCheck = kafka == null ? null : sampler.readiness("kafka", kafka::health);
    sampler.start(cfg.observability().sampleInterval());
    closeables.add(0, sampler);
    if (!serve) {
      return null;
    }
    if (kafkaCheck != null) {
      checks.add(kafkaCheck);
    }
    Duration stuckAfter = cfg.observability().stuckAfter();
    if (relay != null) {
      checks.add(
          new AdminServer.Check(
              "relay", () -> loop("relay", pipeline.alive("relay"), relay.lastLoop(), stuckAfter)));
    }
    if (cdc != null) {
      checks.add(new AdminServer.Check("relay", () -> cdcRelay(cdc, stuckAfter)));
    }
    List<InvalidationWorker> workers = pipeline.workers();
    for (int i = 0; i < workers.size(); i++) {
      InvalidationWorker w = workers.get(i);
      String name = "worker-" + i;
      checks.add(
          new AdminServer.Check(
              name, () -> loop(name, pipeline.alive(name), w.lastLoop(), stuckAfter)));
    }
    // On Kafka the HTTP dead-letter API reads <topic>-dlt the way invalidator dlq does, each call
    // bounded to a few seconds: the admin server has two threads, and /health/ready shares them.
    DeadLetterApi dlq =
        workers.isEmpty()
            ? null
            : kafka != null
                ? new KafkaDeadLetterApi(kafka.deadLetterAdmin(DLQ_TIMEOUT))
                : new DeadLetterAdmin(servers.connection(), keys);
    String streamName = kafka != null ? kafka.topic() : keys.stream();
    String groupName = kafka != null ? kafka.group() : cfg.worker().group();
    dev.invalidator.workflows.WorkflowAdmin workflows =
        pipeline == null ? null : pipeline.workflowAdmin();
    Supplier<java.util.Map<String, Object>> status =
        () -> {
          java.util.Map<String, Object> m = metrics.status(streamName, groupName);
          if (workflows != null) {
            // Workflows by <workflow>/<state>, as invalidator_workflows counts them.
            java.util.Map<String, Object> withWorkflows = new java.util.LinkedHashMap<>(m);
            withWorkflows.put("workflows", new java.util.TreeMap<>(workflows.countsByState()));
            // The same workflows by the five states the status page draws.
            withWorkflows.put("workflowStates", workflows.countsByDisplayState());
            return withWorkflows;
          }
          return m;
        };
    try {
      admin =
          AdminServer.start(
              cfg.admin().bind(),
              cfg.admin().port(),
              metrics,
              checks,
              status,
              dlq,
              cfg.admin().token(),
              consistency);
    } catch (java.io.UncheckedIOException e) {
      if (!anyFreePort) {
        throw e;
      }
      log.warn("{}; using a free port instead", e.getMessage());
      admin =
          AdminServer.start(
              cfg.admin().bind(),
              0,
              metrics,
              checks,
              status,
              dlq,
              cfg.admin().token(),
              consistency);
    }
    if (pipeline != null && pipeline.workflowEngine() != null) {
      admin.workflowCallbacks(pipeline.workflowEngine()::callback);
    }
    closeables.add(0, admin);
    return admin;
  }

  private String loop(String name, boolean alive, Instant lastLoop, Duration stuckAfter) {
    if (!alive) {
      throw new IllegalStateException(name + " thread is not running");
    }
    Duration since = Duration.between(lastLoop, clock.instant());
    if (since.compareTo(stuckAfter) > 0) {
      throw new IllegalStateException(
          name
              + " has not completed an iteration for "
              + since.toSeconds()
              + " s (observability.stuckAfter "
              + stuckAfter.toSeconds()
              + " s)");
    }
    return "last iteration " + since.toMillis() + " ms ago";
  }

  /**
   * The CDC relay's readiness: its engine streams, and its last batch or heartbeat (every {@code
   * relay.cdc.heartbeatInterval}) is younger than {@code observability.stuckAfter}.
   */
  private String cdcRelay(CdcRelay cdc, Duration stuckAfter) {
    CdcRelay.State state = cdc.state();
    switch (state) {
      case STREAMING -> {}
      case STANDBY -> {
        return "standby: another relay holds the lock of slot "
            + cdc.slotName()
            + "; this one takes over when it stops";
      }
      case FAILED -> throw new IllegalStateException("CDC relay failed: " + cdc.failure());
      default ->
          throw new IllegalStateException(
              "CDC relay is " + state.name().toLowerCase(java.util.Locale.ROOT));
    }
    Instant last = cdc.lastActivity();
    Duration since = last == null ? Duration.ZERO : Duration.between(last, clock.instant());
    if (since.compareTo(stuckAfter) > 0) {
      throw new IllegalStateException(
          "CDC relay has had no batch or heartbeat for "
              + since.toSeconds()
              + " s (observability.stuckAfter "
              + stuckAfter.toSeconds()
              + " s)");
    }
    return "streaming from slot "
        + cdc.slotName()
        + ", last batch or heartbeat "
        + since.toMillis()
        + " ms ago";
  }

  @Override
  public void close() {
    for (AutoCloseable c : closeables) {
      try {
        c.close();
      } catch (Exception e) {
        log.debug("closing {} failed", c, e);
      }
    }
    metrics.close();
  }
}
