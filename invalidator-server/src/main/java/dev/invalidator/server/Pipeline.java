package dev.invalidator.server;

import dev.invalidator.cdc.CdcRelay;
import dev.invalidator.core.DeadLetters;
import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.EventSource;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.core.Target;
import dev.invalidator.core.TargetBreakers;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.PollingRelay;
import dev.invalidator.outbox.RelayListener;
import dev.invalidator.redis.IdempotentTarget;
import dev.invalidator.redis.NearCacheHeartbeat;
import dev.invalidator.redis.PipelineSettings;
import dev.invalidator.redis.RedisConnection;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisFailureHistory;
import dev.invalidator.redis.RedisStreamPublisher;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.VersionGatedRedisTarget;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.workflows.WorkflowAdmin;
import dev.invalidator.workflows.WorkflowDefinition;
import dev.invalidator.workflows.WorkflowEngine;
import java.lang.management.ManagementFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running daemon: one relay thread and {@code worker.threads} worker threads, each worker with
 * its own Redis connection (a blocking XREADGROUP must not stall the others).
 *
 * <p>With {@code transport: kafka} the same loops run on the invalidator-kafka adapters behind the
 * same ports: the relay publishes to the topic, each worker thread is one member of the consumer
 * group, and dead letters go to {@code <topic>-dlt}. Redis stays the cache and the targets' state
 * (fences, versions, failure history, idempotency keys).
 *
 * <p>Shutdown asks every loop to stop, then waits for the batch in flight: a relay batch either
 * commits after publishing or rolls back, and a worker acknowledges only what it applied, so a stop
 * at any moment loses nothing.
 */
final class Pipeline implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Pipeline.class);

  private final List<Thread> threads = new ArrayList<>();
  private final List<Runnable> stoppers = new ArrayList<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final List<InvalidationWorker> workers = new ArrayList<>();
  private final List<String> targetNames = new ArrayList<>();
  private final List<String> targetGroups = new ArrayList<>();
  private PollingRelay relay;
  private RedisLossRecovery recovery;
  private CdcRelay cdc;
  private NearCacheHeartbeat heartbeat;
  private TargetBreakers breakers;
  private WorkflowEngine workflowEngine;
  private WorkflowAdmin workflowAdmin;
  private final List<PipelineInterceptor> interceptors = loadInterceptors();
  private KafkaTransport kafka;

  Pipeline(
      InvalidatorConfig cfg,
      Servers servers,
      Daemon.Role role,
      WorkerListener workerListener,
      RelayListener relayListener,
      Clock clock) {
    this(cfg, servers, role, workerListener, relayListener, clock, MessagingSpans.NOOP);
  }

  /** A pipeline whose relay and workers make spans (see {@link MessagingSpans}). */
  Pipeline(
      InvalidatorConfig cfg,
      Servers servers,
      Daemon.Role role,
      WorkerListener workerListener,
      RelayListener relayListener,
      Clock clock,
      MessagingSpans spans) {
    this(
        cfg,
        servers,
        role,
        workerListener,
        relayListener,
        clock,
        spans,
        new io.micrometer.core.instrument.simple.SimpleMeterRegistry(),
        io.opentelemetry.api.OpenTelemetry.noop());
  }

  /**
   * A pipeline whose workflow engine (when {@code workflows.definitions} is set) reports to {@code
   * registry} and traces through {@code openTelemetry}.
   */
  Pipeline(
      InvalidatorConfig cfg,
      Servers servers,
      Daemon.Role role,
      WorkerListener workerListener,
      RelayListener relayListener,
      Clock clock,
      MessagingSpans spans,
      io.micrometer.core.instrument.MeterRegistry registry,
      io.opentelemetry.api.OpenTelemetry openTelemetry) {
    KeyScheme keys = cfg.redis().keyScheme();
    OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    if (cfg.kafka().enabled()) {
      kafka = new KafkaTransport(cfg.kafka());
      closeables.add(kafka);
      kafka.ensureTopics();
    }
    EventPublisher kafkaPublisher = null;
    if (role.relay()) {
      EventPublisher transportPublisher;
      if (kafka != null) {
        var p = kafka.publisher(clock);
        closeables.add(p);
        kafkaPublisher = p;
        transportPublisher = p;
      } else {
        // The relay publishes on a connection of its own, so its XADDs never queue behind the
        // workers' scripts on the shared connection (measured: half the relay's time was spent
        // waiting there at 3,000 events/s).
        RedisConnection<String, String> relayConnection = servers.connector().connect();
        closeables.add(relayConnection);
        transportPublisher = new RedisStreamPublisher(relayConnection, keys, clock);
      }
      EventPublisher publisher = intercept(transportPublisher, PipelineInterceptor::publisher);
      relay =
          PollingRelay.builder(servers.dataSource(), table, publisher)
              .batchSize(cfg.relay().batchSize())
              .maxBatchSize(cfg.relay().maxBatchSize())
              .concurrency(cfg.relay().concurrency())
              .pollInterval(cfg.relay().pollInterval())
              .retention(cfg.relay().retention())
              .cleanupInterval(cfg.relay().cleanupInterval())
              .listener(relayListener)
              .clock(clock)
              .spans(spans)
              .build();
      if (cfg.relay().cdc()) {
        // Change data capture reads the outbox's inserts from the WAL (Debezium); the polling
        // relay then only deletes rows past retention, on its cleanup interval.
        cdc = cdcRelay(cfg, publisher).listener(relayListener).clock(clock).spans(spans).build();
        stoppers.add(cdc::close);
        PollingRelay cleaner = relay;
        Duration every = cfg.relay().cleanupInterval();
        CountDownLatch stopCleanup = new CountDownLatch(1);
        stoppers.add(stopCleanup::countDown);
        threads.add(
            new Thread(
                () -> {
                  try {
                    while (!stopCleanup.await(every.toMillis(), TimeUnit.MILLISECONDS)) {
                      try {
                        cleaner.cleanUp();
                      } catch (RuntimeException e) {
                        log.warn("outbox clean-up failed, retrying in {}: {}", every, e.toString());
                      }
                    }
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                },
                "outbox-cleanup"));
        relay = null;
      } else {
        stoppers.add(relay::stop);
        threads.add(new Thread(relay, "relay"));
      }
      recovery =
          new RedisLossRecovery(
              servers.connection(),
              keys,
              cfg.worker().group(),
              servers.dataSource(),
              table,
              cfg.recovery().replayWindow(),
              cfg.recovery().checkInterval(),
              cfg.recovery().trimInterval(),
              kafkaPublisher,
              clock);
      stoppers.add(recovery::stop);
      threads.add(new Thread(recovery, "recovery"));
    }
    if (role.worker()) {
      targetNames.add(VersionGatedRedisTarget.NAME);
      // What every CacheClient must agree with; each checks it when it is built.
      new PipelineSettings(cfg.cache().fenceTtl(), cfg.nearCache().channels())
          .publish(servers.connection(), keys);
      if (cfg.nearCache().channels() > 0) {
        heartbeat =
            new NearCacheHeartbeat(
                servers.connection(),
                keys,
                cfg.nearCache().channels(),
                cfg.nearCache().heartbeatInterval());
        stoppers.add(heartbeat::stop);
        threads.add(new Thread(heartbeat, "near-cache-heartbeat"));
      }
      DeadLetters deadLetters;
      if (kafka != null) {
        var d = kafka.deadLetters();
        closeables.add(d);
        deadLetters = d;
      } else {
        deadLetters = new RedisDeadLetters(servers.connection(), keys);
      }
      RedisFailureHistory failures = new RedisFailureHistory(servers.connection(), keys);
      WorkerListener listener = intercept(workerListener, PipelineInterceptor::workerListener);
      breakers = new TargetBreakers(cfg.worker().breakerOpenWait(), listener);
      String process = ManagementFactory.getRuntimeMXBean().getName();
      for (int i = 0; i < cfg.worker().threads(); i++) {
        // Each worker applies on a connection of its own: the replies of one worker's batch
        // never wait behind another's, and the connections spread over Lettuce's I/O threads.
        VersionGatedRedisTarget target = redisTarget(cfg, servers);
        EventSource source = source(cfg, servers, cfg.worker().group(), process + "-w" + i, clock);
        InvalidationWorker w =
            new InvalidationWorker(
                intercept(source, PipelineInterceptor::source),
                List.of(target),
                deadLetters,
                failures,
                breakers,
                cfg.worker().options(),
                listener,
                clock,
                spans);
        workers.add(w);
        stoppers.add(w::stop);
        threads.add(new Thread(w, "worker-" + i));
      }
      for (Target extra : cfg.targets().build()) {
        startTargetWorker(
            cfg, servers, extra, deadLetters, failures, listener, clock, spans, process);
      }
      if (cfg.workflows().enabled()) {
        startWorkflows(
            cfg,
            servers,
            deadLetters,
            failures,
            listener,
            clock,
            spans,
            process,
            registry,
            openTelemetry);
      }
    }
  }

  /**
   * The workflow engine (DBOS Transact, in the outbox's database, on a small pool of its own so its
   * long-held connections never starve the relay) fed by a worker in consumer group {@code
   * <worker.group>-workflows}: the worker only starts workflows, whose ids derive from the event
   * ids, so a redelivery starts nothing twice; the steps run in the engine.
   */
  private void startWorkflows(
      InvalidatorConfig cfg,
      Servers servers,
      DeadLetters deadLetters,
      RedisFailureHistory failures,
      WorkerListener listener,
      Clock clock,
      MessagingSpans spans,
      String process,
      io.micrometer.core.instrument.MeterRegistry registry,
      io.opentelemetry.api.OpenTelemetry openTelemetry) {
    VersionGatedRedisTarget redis = redisTarget(cfg, servers);
    List<WorkflowDefinition> definitions = cfg.workflows().build(cfg.targets(), () -> redis);
    com.zaxxer.hikari.HikariDataSource pool =
        Servers.dataSource(cfg, "invalidator-workflows", cfg.workflows().concurrency() + 4);
    closeables.add(pool);
    workflowEngine =
        WorkflowEngine.builder()
            .dataSource(pool)
            .schema(cfg.workflows().schema())
            .executorId(cfg.workflows().executorId())
            .concurrency(cfg.workflows().concurrency())
            .definitions(definitions)
            .deadLetters(deadLetters)
            .meterRegistry(registry)
            .openTelemetry(openTelemetry)
            .build();
    closeables.add(0, workflowEngine); // after the loops stopped, before the connections close
    workflowAdmin = new WorkflowAdmin(pool, cfg.workflows().schema(), clock);
    workflowAdmin.bindStateGauges(
        registry, definitions.stream().map(WorkflowDefinition::name).toList());
    startTargetWorker(
        cfg,
        servers,
        workflowEngine.asTarget(),
        deadLetters,
        failures,
        listener,
        clock,
        spans,
        process);
  }

  /** The workflow engine, or null when no workflow is configured (or no worker runs). */
  WorkflowEngine workflowEngine() {
    return workflowEngine;
  }

  /** Workflow operations, or null when no workflow is configured (or no worker runs). */
  WorkflowAdmin workflowAdmin() {
    return workflowAdmin;
  }

  /**
   * One worker for a target beyond Redis, in a consumer group of its own ({@code <worker.group>-
   * <target>}) on the same stream: its retries, rate limits and open breaker never delay Redis
   * invalidation, and trimming already keeps every entry some group still needs. The target is
   * wrapped in {@link IdempotentTarget}, so an event redelivered after a crash is not sent twice.
   */
  private void startTargetWorker(
      InvalidatorConfig cfg,
      Servers servers,
      Target target,
      DeadLetters deadLetters,
      RedisFailureHistory failures,
      WorkerListener listener,
      Clock clock,
      MessagingSpans spans,
      String process) {
    KeyScheme keys = cfg.redis().keyScheme();
    RedisConnection<String, String> connection = servers.connector().connect();
    closeables.add(connection);
    if (target instanceof AutoCloseable c) {
      closeables.add(c);
    }
    Target idempotent =
        new IdempotentTarget(target, connection, keys, cfg.targets().idempotencyTtl());
    String group = cfg.worker().group() + "-" + target.name();
    EventSource source = source(cfg, servers, group, process + "-" + target.name(), clock);
    if (kafka != null) {
      group = kafka.group() + "-" + target.name();
    }
    InvalidationWorker w =
        new InvalidationWorker(
            intercept(source, PipelineInterceptor::source),
            List.of(idempotent),
            deadLetters,
            failures,
            new TargetBreakers(cfg.worker().breakerOpenWait(), listener),
            cfg.worker().options(),
            listener,
            clock,
            spans);
    workers.add(w);
    targetNames.add(target.name());
    targetGroups.add(group);
    stoppers.add(w::stop);
    threads.add(new Thread(w, "worker-" + target.name()));
    log.info("target {} applies the stream in consumer group {}: {}", target.name(), group, target);
  }

  /** The CDC relay of the configuration (also for {@code invalidator cdc}). */
  static CdcRelay.Builder cdcRelay(InvalidatorConfig cfg, EventPublisher publisher) {
    OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    CdcRelay.Builder b =
        CdcRelay.builder(cfg.postgres().jdbcUrl(), table, publisher)
            .heartbeatInterval(cfg.relay().cdcHeartbeatInterval());
    if (!cfg.postgres().user().isEmpty()) {
      b.user(cfg.postgres().user());
    }
    if (!cfg.postgres().password().isEmpty()) {
      b.password(cfg.postgres().password());
    }
    if (!cfg.relay().cdcSlot().isEmpty()) {
      b.slotName(cfg.relay().cdcSlot());
    }
    if (!cfg.relay().cdcPublication().isEmpty()) {
      b.publicationName(cfg.relay().cdcPublication());
    }
    return b;
  }

  /**
   * The version-gated Redis target on a connection of its own (closed with the pipeline): the
   * replies of one worker's batch never wait behind another's, and the connections spread over
   * Lettuce's I/O threads.
   */
  private VersionGatedRedisTarget redisTarget(InvalidatorConfig cfg, Servers servers) {
    RedisConnection<String, String> connection = servers.connector().connect();
    closeables.add(connection);
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(
            connection,
            cfg.redis().keyScheme(),
            cfg.cache().fenceTtl(),
            new VersionGatedRedisTarget.Options(
                cfg.tags().walkBatchSize(), cfg.nearCache().channels()),
            servers.connector());
    closeables.add(target);
    return target;
  }

  /**
   * A worker's source: a consumer of the Redis stream in {@code redisGroup}, or on Kafka a member
   * of {@code kafka.groupId} (or {@code <kafka.groupId>-<target>} for another target's worker).
   */
  private EventSource source(
      InvalidatorConfig cfg, Servers servers, String redisGroup, String consumer, Clock clock) {
    if (kafka != null) {
      String suffix = redisGroup.substring(cfg.worker().group().length());
      var source = kafka.source(kafka.group() + suffix, consumer, clock);
      closeables.add(source);
      return source;
    }
    RedisStreamSource source =
        RedisStreamSource.builder(servers.connector(), cfg.redis().keyScheme())
            .group(redisGroup)
            .consumer(consumer)
            .build();
    source.ensureGroup();
    closeables.add(source);
    return source;
  }

  /** The Kafka transport, or null when events travel through Redis. */
  KafkaTransport kafka() {
    return kafka;
  }

  void start() {
    if (workflowEngine != null) {
      workflowEngine.start(); // resumes this executor's unfinished workflows
    }
    if (recovery != null) {
      // The first loss check runs before the relay publishes anything: a marker written only
      // after the relay's first batch made that batch look like data Redis had lost (a spurious
      // replay at every start on a fresh Redis).
      try {
        recovery.check();
      } catch (RuntimeException e) {
        log.warn("first Redis-loss check failed, the recovery loop retries it: {}", e.toString());
      }
    }
    threads.forEach(Thread::start);
    if (cdc != null) {
      cdc.start();
    }
    log.info(
        "started {} loop(s): {}", threads.size(), threads.stream().map(Thread::getName).toList());
  }

  /** The Redis-loss recovery loop, or null in a worker-only process. */
  RedisLossRecovery recovery() {
    return recovery;
  }

  /** The near-cache heartbeat, or null when the process publishes none. */
  NearCacheHeartbeat heartbeat() {
    return heartbeat;
  }

  /** The change-data-capture relay, or null unless {@code relay.mode} is cdc. */
  CdcRelay cdc() {
    return cdc;
  }

  PollingRelay relay() {
    return relay;
  }

  /** The circuit breakers of this process's targets, or null without workers. */
  TargetBreakers breakers() {
    return breakers;
  }

  List<InvalidationWorker> workers() {
    return workers;
  }

  /** The names of the workers' targets (empty for a relay-only process). */
  /**
   * The consumer groups of the targets beyond Redis (workflows included), one per target: {@code
   * <worker.group>-<target>}, on Kafka {@code <kafka.groupId>-<target>}.
   */
  List<String> targetGroups() {
    return List.copyOf(targetGroups);
  }

  List<String> targetNames() {
    return List.copyOf(targetNames);
  }

  /** True while at least one loop thread runs. */
  boolean alive(String threadPrefix) {
    return threads.stream().anyMatch(t -> t.getName().startsWith(threadPrefix) && t.isAlive());
  }

  /** How long an interrupted loop gets to return before it is abandoned. */
  static final Duration INTERRUPT_GRACE = Duration.ofSeconds(2);

  private boolean stopped;

  /**
   * Stops every loop after its batch in flight and waits for them, at most {@code timeout}; a loop
   * still running then (blocked on a server that went away: a pool waiting for a connection, a
   * command waiting for its reply) is interrupted and given {@link #INTERRUPT_GRACE}; one that
   * still runs after that is abandoned, named in a warning. Only the first call waits.
   */
  synchronized void stop(Duration timeout) {
    if (stopped) {
      return;
    }
    stopped = true;
    stoppers.forEach(Runnable::run);
    long deadline = System.nanoTime() + timeout.toNanos();
    List<Thread> interrupted = new ArrayList<>();
    for (Thread t : threads) {
      if (!join(t, deadline)) {
        return;
      }
      if (t.isAlive()) {
        interrupted.add(t);
      }
    }
    if (interrupted.isEmpty()) {
      return;
    }
    log.warn(
        "{} did not stop within {}; interrupting them",
        interrupted.stream().map(Thread::getName).toList(),
        timeout);
    interrupted.forEach(Thread::interrupt);
    long grace = System.nanoTime() + INTERRUPT_GRACE.toNanos();
    for (Thread t : interrupted) {
      if (!join(t, grace)) {
        return;
      }
    }
    List<String> abandoned =
        interrupted.stream().filter(Thread::isAlive).map(Thread::getName).toList();
    if (!abandoned.isEmpty()) {
      log.warn(
          "abandoned {}: still running {} after the interrupt (their batch in flight is neither"
              + " acknowledged nor committed, so it is delivered again)",
          abandoned,
          INTERRUPT_GRACE);
    }
  }

  /** Joins {@code t} until {@code deadline}; false when this thread was interrupted. */
  private static boolean join(Thread t, long deadline) {
    long ms = (deadline - System.nanoTime()) / 1_000_000;
    if (ms <= 0) {
      return true;
    }
    try {
      t.join(ms);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Stops the loops (10 s, unless {@link #stop} ran already) and closes the connections. */
  @Override
  public void close() {
    stop(Duration.ofSeconds(10));
    for (AutoCloseable c : closeables) {
      try {
        c.close();
      } catch (Exception e) {
        log.debug("close failed", e);
      }
    }
  }

  private static List<PipelineInterceptor> loadInterceptors() {
    List<PipelineInterceptor> found = new ArrayList<>();
    for (PipelineInterceptor i : ServiceLoader.load(PipelineInterceptor.class)) {
      log.warn("pipeline interceptor {} is on the class path and wraps the pipeline's ports", i);
      found.add(i);
    }
    return List.copyOf(found);
  }

  private <T> T intercept(T port, BiFunction<PipelineInterceptor, T, T> wrap) {
    T wrapped = port;
    for (PipelineInterceptor i : interceptors) {
      wrapped = wrap.apply(i, wrapped);
    }
    return wrapped;
  }
}
