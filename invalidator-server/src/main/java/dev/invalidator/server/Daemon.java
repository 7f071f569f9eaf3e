package dev.invalidator.server;

import dev.invalidator.core.WorkerListener;
import dev.invalidator.core.WorkerListeners;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.CacheInspector;
import dev.invalidator.redis.RedisConnector;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.consistency.ConsistencyObserver;
import dev.invalidator.server.consistency.VersionQueries;
import dev.invalidator.server.observe.AdminServer;
import dev.invalidator.server.observe.Tracing;
import io.lettuce.core.RedisClient;
import io.micrometer.core.instrument.MeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon in one process: its connections, its pipeline (relay, workers or both) and its
 * observability (metrics, traces, the admin server). {@code invalidator run} is this class started
 * until SIGTERM; the distribution's demo starts one beside its workload.
 *
 * <pre>{@code
 * try (Daemon daemon = Daemon.create(cfg, Daemon.Role.ALL, WorkerListener.NONE, false)) {
 *   URI admin = daemon.start(false);
 *   ...
 * }
 * }</pre>
 */
public final class Daemon implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Daemon.class);

  /** Which loops this process runs. */
  public enum Role {
    RELAY,
    WORKER,
    ALL;

    boolean relay() {
      return this != WORKER;
    }

    boolean worker() {
      return this != RELAY;
    }
  }

  private final InvalidatorConfig cfg;
  private final Servers servers;
  private final OpenTelemetry otel;
  private final Observability observability;
  private final Pipeline pipeline;
  private final CacheInspector inspector;
  private final ConsistencyObserver observer;
  private AdminServer admin;
  private boolean closed;
  private dev.invalidator.redis.RedisStreamSource statsProbe;
  private KafkaTransport statsKafka;
  private final java.util.Map<String, dev.invalidator.redis.RedisStreamSource> targetProbes =
      new java.util.HashMap<>();

  private Daemon(InvalidatorConfig cfg, Role role, WorkerListener extra, boolean migrate) {
    this.cfg = cfg;
    this.servers = Servers.connect(cfg);
    CacheInspector ins = null;
    ConsistencyObserver obs = null;
    try {
      if (migrate) {
        OutboxSchema.migrate(servers.dataSource(), outboxTable());
      }
      this.otel = Tracing.fromEnvironment();
      this.observability = Observability.create(cfg, role, otel, Clock.systemUTC());
      if (cfg.observer().enabled() && role.worker()) {
        // The observer hears of every applied event, samples on the worker thread and checks on
        // its own; a relay-only process applies nothing, so it runs none.
        ins = CacheInspector.create(servers.connector(), cfg.redis().keyScheme());
        obs =
            new ConsistencyObserver(
                cfg.observer(),
                cfg.observability().tenants(),
                ins,
                new VersionQueries(servers.dataSource(), cfg.observer().queries()),
                observability.metrics().registry(),
                Clock.systemUTC());
        observability.consistency(obs::report);
      }
      this.pipeline =
          new Pipeline(
              cfg,
              servers,
              role,
              obs == null
                  ? WorkerListeners.all(extra, observability.metrics().workerListener())
                  : WorkerListeners.all(extra, observability.metrics().workerListener(), obs),
              observability.metrics().relayListener(),
              Clock.systemUTC(),
              observability.spans(),
              observability.metrics().registry(),
              otel);
    } catch (RuntimeException e) {
      if (obs != null) {
        obs.close();
      }
      if (ins != null) {
        ins.close();
      }
      servers.close();
      throw e;
    }
    this.inspector = ins;
    this.observer = obs;
  }

  /**
   * Connects to the configured PostgreSQL and Redis and builds the pipeline without starting it.
   *
   * @param extra a listener told of every batch the workers apply, beside the metrics'
   * @param migrate create or upgrade the outbox table first
   */
  public static Daemon create(
      InvalidatorConfig cfg, Role role, WorkerListener extra, boolean migrate) {
    return new Daemon(cfg, role, extra, migrate);
  }

  /**
   * Starts the loops and the admin server; returns the admin server's address.
   *
   * @param anyFreePort bind the admin server to a free port instead of the configured one
   */
  public URI start(boolean anyFreePort) {
    pipeline.start();
    if (observer != null) {
      observer.start();
    }
    admin = observability.start(servers, pipeline, anyFreePort);
    return admin.uri();
  }

  /**
   * Starts the loops and the metrics sampler without the admin HTTP server: a daemon embedded in an
   * application (the Spring Boot starter's {@code invalidator.embedded}), which must not take a
   * port the application did not ask for.
   */
  public void startWithoutAdmin() {
    pipeline.start();
    if (observer != null) {
      observer.start();
    }
    observability.start(servers, pipeline, false, false);
  }

  /** The outbox table of the configuration. */
  public OutboxTable outboxTable() {
    return OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
  }

  /** The daemon's PostgreSQL pool. */
  public DataSource dataSource() {
    return servers.dataSource();
  }

  /** The daemon's Redis client; fails when {@code redis.cluster} is on (see {@link #redis()}). */
  public RedisClient redisClient() {
    return servers.redis();
  }

  /** The daemon's Redis client, standalone or cluster. */
  public RedisConnector redis() {
    return servers.connector();
  }

  /** The registry the daemon's metrics are in (served at {@code /metrics}). */
  public MeterRegistry meterRegistry() {
    return observability.metrics().registry();
  }

  /** The consistency observer, or null when {@code observer.enabled} is off (or no workers). */
  public ConsistencyObserver consistencyObserver() {
    return observer;
  }

  /**
   * The workers' backlog on the configured transport, read now: the Redis stream's group, or on
   * Kafka the group's lag (what {@code invalidator status --wait-drained} waits on).
   */
  public synchronized dev.invalidator.redis.StreamStats transportStats() {
    if (cfg.kafka().enabled()) {
      if (statsKafka == null) {
        statsKafka = new KafkaTransport(cfg.kafka());
      }
      return statsKafka.stats(statsKafka.group());
    }
    if (statsProbe == null) {
      statsProbe =
          dev.invalidator.redis.RedisStreamSource.builder(
                  servers.connector(), cfg.redis().keyScheme())
              .group(cfg.worker().group())
              .consumer("status-probe")
              .build();
    }
    return statsProbe.stats();
  }

  /**
   * Pending entries and lag of the consumer group of a target beyond Redis, such as {@code
   * cdn-fastly}: {@code <worker.group>-<target>} (on Kafka, {@code <kafka.groupId>-<target>}).
   */
  public synchronized dev.invalidator.redis.StreamStats transportStats(String target) {
    if (cfg.kafka().enabled()) {
      if (statsKafka == null) {
        statsKafka = new KafkaTransport(cfg.kafka());
      }
      return statsKafka.stats(statsKafka.group() + "-" + target);
    }
    return targetProbes
        .computeIfAbsent(
            target,
            t ->
                dev.invalidator.redis.RedisStreamSource.builder(
                        servers.connector(), cfg.redis().keyScheme())
                    .group(cfg.worker().group() + "-" + t)
                    .consumer("status-probe")
                    .build())
        .stats();
  }

  /**
   * Asks every loop to stop and waits up to {@code timeout} for the batches in flight; loops still
   * running then are interrupted (see {@link #close()}).
   */
  public void stop(Duration timeout) {
    pipeline.stop(timeout);
  }

  /**
   * How long {@link #close()} takes at most, whatever the servers' state: {@link #STOP_GRACE} for
   * the batches in flight, then the interrupt's grace, then closing the connections; what has not
   * finished by then is abandoned (named in a warning) and close returns.
   */
  public static final Duration CLOSE_BOUND = Duration.ofSeconds(10);

  /** How long the loops get to finish their batches in flight before they are interrupted. */
  static final Duration STOP_GRACE = Duration.ofSeconds(5);

  private volatile String closing = "not started";

  /**
   * Stops the loops ({@link #STOP_GRACE} for the batches in flight) and closes everything, once,
   * within {@link #CLOSE_BOUND}: the closing runs on a thread of its own, and when a step is still
   * blocked at the bound (a connection whose server went away, a Kafka client leaving its group)
   * close logs what it abandoned and returns; the process may then exit.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    Thread closer = new Thread(this::closeAll, "daemon-close");
    closer.setDaemon(true);
    closer.start();
    try {
      closer.join(CLOSE_BOUND.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (closer.isAlive()) {
      String at =
          java.util.Arrays.stream(closer.getStackTrace())
              .filter(
                  f ->
                      !f.getClassName().startsWith("java.") && !f.getClassName().startsWith("jdk."))
              .findFirst()
              .map(StackTraceElement::toString)
              .orElse("?");
      log.warn(
          "shutdown did not finish within {}: abandoned {} (blocked at {}); what it had not"
              + " closed yet is left to the process's exit",
          CLOSE_BOUND,
          closing,
          at);
    }
  }

  private void closeAll() {
    step("the status probes");
    if (statsKafka != null) {
      statsKafka.close();
    }
    if (statsProbe != null) {
      statsProbe.close();
    }
    targetProbes.values().forEach(dev.invalidator.redis.RedisStreamSource::close);
    step("the loops");
    pipeline.stop(STOP_GRACE);
    step("the pipeline's connections");
    pipeline.close();
    step("the consistency observer");
    if (observer != null) {
      observer.close();
      inspector.close();
    }
    step("the admin server and metrics");
    observability.close();
    step("tracing");
    Tracing.shutdown(otel);
    step("the PostgreSQL pool and the Redis client");
    servers.close();
    step("nothing");
  }

  private void step(String what) {
    closing = "closing " + what;
    log.debug(closing);
  }
}
