package dev.invalidator.server;

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
import dev.invalidator.server.observe.InvalidatorMetrics;
import dev.invalidator.server.observe.MetricsSampler;
import io.opentelemetry.api.OpenTelemetry;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wires metrics, tracing, the sampler and the admin HTTP server around a {@link Pipeline}: {@link
 * #create} before the pipeline (it needs the listeners and spans), {@link #start} after it.
 */
final class Observability implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Observability.class);

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
    KeyScheme keys = cfg.redis().keyScheme();
    OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    PollingRelay relay = pipeline.relay();
    List<Supplier<Instant>> workerLoops = new ArrayList<>();
    for (InvalidationWorker w : pipeline.workers()) {
      workerLoops.add(w::lastLoop);
    }
    metrics.bindLoops(relay == null ? null : relay::lastLoop, workerLoops);
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
    RedisStreamSource statsSource =
        RedisStreamSource.builder(servers.connector(), keys)
            .group(cfg.worker().group())
            .consumer("metrics-sampler")
            .build();
    closeables.add(statsSource);
    RedisDeadLetters deadLetters = new RedisDeadLetters(servers.connection(), keys);
    MetricsSampler sampler =
        new MetricsSampler(
                metrics,
                servers.dataSource(),
                table,
                statsSource::stats,
                deadLetters,
                servers.connection(),
                keys.stream(),
                cfg.worker().group(),
                clock)
            .start(cfg.observability().sampleInterval());
    closeables.add(0, sampler);
    List<AdminServer.Check> checks = new ArrayList<>();
    checks.add(
        new AdminServer.Check(
            "postgres",
            () -> {
              try (Connection c = servers.dataSource().getConnection()) {
                if (!c.isValid(2)) {
                  throw new IllegalStateException("connection is not valid");
                }
              }
              return "reachable";
            }));
    checks.add(
        new AdminServer.Check(
            "redis",
            () -> {
              String pong = servers.connection().sync().ping();
              return "reachable (" + pong + ")";
            }));
    Duration stuckAfter = cfg.observability().stuckAfter();
    if (relay != null) {
      checks.add(
          new AdminServer.Check(
              "relay", () -> loop("relay", pipeline.alive("relay"), relay.lastLoop(), stuckAfter)));
    }
    List<InvalidationWorker> workers = pipeline.workers();
    for (int i = 0; i < workers.size(); i++) {
      InvalidationWorker w = workers.get(i);
      String name = "worker-" + i;
      checks.add(
          new AdminServer.Check(
              name, () -> loop(name, pipeline.alive(name), w.lastLoop(), stuckAfter)));
    }
    DeadLetterAdmin dlq =
        workers.isEmpty() ? null : new DeadLetterAdmin(servers.connection(), keys);
    Supplier<java.util.Map<String, Object>> status =
        () -> metrics.status(keys.stream(), cfg.worker().group());
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
