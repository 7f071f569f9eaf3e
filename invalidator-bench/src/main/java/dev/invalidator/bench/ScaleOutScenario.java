package dev.invalidator.bench;

import dev.invalidator.core.KeyScheme;
import dev.invalidator.embedded.EmbeddedKafkaBroker;
import dev.invalidator.outbox.OutboxTable;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.io.PrintStream;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.common.GroupState;

/**
 * Scenario 7, scale-out: throughput of the workers when they run as 1, 2, 4... processes, on each
 * transport, with correctness checked after every count.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li>Per transport: one relay process ({@code invalidator run --role relay}) and worker
 *       processes ({@code --role worker}), started like the sustained scenario's daemon (the
 *       launcher's JVM options, default settings but the run's table, key prefix, consumer group
 *       and, on Kafka, a topic of {@code partitions} partitions). Worker processes are added
 *       between counts (1, then 1 more, then 2 more), so the relay and the stream or topic are the
 *       same for every count.
 *   <li>Before each count is measured, the bench waits until every worker thread is a member of the
 *       group (Redis: a consumer of the group; Kafka: the group is stable with that many members),
 *       so a rebalance or a late joiner is not measured.
 *   <li>Each count gets a warm-up backlog (applied, not measured) and then the measured one: one
 *       cache entry per aggregate, then one outbox row per aggregate, all committed in one
 *       transaction while the relay runs. The time runs from that commit to Redis's keyspace
 *       notification of the last entry's deletion, so it includes the relay, which the report shows
 *       finishing earlier (when it does not, the relay was the limit, not the workers).
 *   <li>Correctness afterwards: no entry of the backlog left (0 stale) and every aggregate's fence
 *       at its event's version (0 lost: an event dead-lettered or never applied leaves its fence
 *       absent).
 *   <li>Every daemon is registered with {@link DaemonProcesses}, so none outlives the bench.
 * </ul>
 */
final class ScaleOutScenario {
  private ScaleOutScenario() {}

  /** How long a measurement may go without a single entry deleted before it is given up. */
  private static final Duration STALL = Duration.ofSeconds(60);

  /** The keys of one backlog still present, and when the last was deleted. */
  private static final class Round {
    final Set<String> remaining = ConcurrentHashMap.newKeySet();
    final AtomicLong lastDeleted = new AtomicLong();
  }

  /** What one worker count achieved. */
  record Point(
      String transport,
      int workerProcesses,
      int consumers,
      long events,
      double seconds,
      double eventsPerSecond,
      double relayDoneSeconds,
      long stale,
      long lost) {}

  static ScenarioResult run(
      BenchEnvironment env, BenchSettings s, PrintStream out, Path logBase, String kafkaBootstrap)
      throws Exception {
    DaemonProcesses.requireDaemonOnClassPath("scale-out");
    BenchSettings.ScaleOut cfg = s.scaleOut();
    RedisCommands<String, String> redis = env.connection().sync();
    int db = RedisURI.create(env.redisUrl()).getDatabase();
    String previousFlags = redis.configGet("notify-keyspace-events").get("notify-keyspace-events");
    previousFlags = previousFlags == null ? "" : previousFlags;
    AtomicReference<Round> round = new AtomicReference<>(new Round());
    StatefulRedisPubSubConnection<String, String> sub = env.redis().connectPubSub();
    EmbeddedKafkaBroker broker = null;
    List<Point> points = new ArrayList<>();
    List<Figure> figures = new ArrayList<>();
    Map<String, Object> details = new LinkedHashMap<>();
    try {
      redis.configSet("notify-keyspace-events", SustainedScenario.withFlags(previousFlags, "Eg"));
      sub.addListener(
          new RedisPubSubAdapter<>() {
            @Override
            public void message(String channel, String key) {
              Round r = round.get();
              if (r.remaining.remove(key)) {
                r.lastDeleted.set(System.nanoTime());
              }
            }
          });
      sub.sync().subscribe("__keyevent@" + db + "__:del");
      long base = 0;
      for (String transport : cfg.transports()) {
        String bootstrap = null;
        if (transport.equals("kafka")) {
          if (kafkaBootstrap != null) {
            bootstrap = kafkaBootstrap;
          } else {
            if (broker == null) {
              out.println("  no --kafka-bootstrap: starting an in-JVM KRaft broker...");
              broker = EmbeddedKafkaBroker.start();
            }
            bootstrap = broker.bootstrap();
          }
        }
        List<Point> tp = runTransport(env, cfg, transport, bootstrap, base, round, logBase, out);
        base += (long) cfg.workers().size() * (cfg.events() + cfg.warmupEvents());
        points.addAll(tp);
        Point first = tp.get(0);
        for (Point p : tp) {
          figures.add(
              Figure.rate(
                  transport
                      + ": applied (events/s) with "
                      + p.workerProcesses()
                      + " worker process"
                      + (p.workerProcesses() == 1 ? "" : "es")
                      + " vs "
                      + first.workerProcesses(),
                  "events/s",
                  p.eventsPerSecond(),
                  first.eventsPerSecond()));
        }
      }
    } finally {
      round.set(new Round());
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
      if (broker != null) {
        broker.close();
      }
    }
    details.put("eventsPerCount", cfg.events());
    details.put("warmupEventsPerCount", cfg.warmupEvents());
    details.put("threadsPerWorker", cfg.threadsPerWorker());
    details.put("kafkaPartitions", partitions(cfg));
    details.put("kafka", kafkaBootstrap == null ? "in-JVM KRaft broker" : "given bootstrap");
    details.put("database", env.dialect().name());
    details.put("points", points);
    return new ScenarioResult(
        "scale-out",
        "7. scale-out",
        "events/s applied by N worker processes (invalidator run --role worker, "
            + cfg.threadsPerWorker()
            + " threads each) fed by one relay process (--role relay), from a committed backlog of "
            + cfg.events()
            + " events (one per cache entry; one INSERT ... SELECT committed while relay and workers"
            + " run, after a warm-up backlog of "
            + cfg.warmupEvents()
            + "); time from the commit to Redis's notification of the last entry's deletion;"
            + " afterwards every entry gone (0 stale) and every fence at its event's version"
            + " (0 lost)",
        "the same with the smallest worker count (" + cfg.workers().get(0) + ")",
        figures,
        details);
  }

  private static int partitions(BenchSettings.ScaleOut cfg) {
    return Math.max(cfg.partitions(), cfg.maxWorkers() * cfg.threadsPerWorker());
  }

  private static List<Point> runTransport(
      BenchEnvironment env,
      BenchSettings.ScaleOut cfg,
      String transport,
      String bootstrap,
      long base,
      AtomicReference<Round> round,
      Path logBase,
      PrintStream out)
      throws Exception {
    OutboxTable outbox = env.outbox("so_" + transport + "_outbox");
    KeyScheme keys = env.keys("so-" + transport);
    String group = "bench_" + env.runId() + "_so_" + transport; // worker.group: [a-z0-9_]
    String topic = "bench-" + env.runId() + "-so";
    Map<String, String> daemonEnv = new LinkedHashMap<>();
    daemonEnv.put("INVALIDATOR_DATABASE_URL", env.jdbcUrl());
    daemonEnv.put("INVALIDATOR_REDIS_URL", env.redisUrl());
    daemonEnv.put("INVALIDATOR_POSTGRES_TABLE", outbox.table());
    daemonEnv.put("INVALIDATOR_POSTGRES_SCHEMA", outbox.schema());
    daemonEnv.put("INVALIDATOR_REDIS_PREFIX", keys.prefix());
    daemonEnv.put("INVALIDATOR_ADMIN_PORT", "0");
    daemonEnv.put("INVALIDATOR_WORKER_GROUP", group);
    daemonEnv.put("INVALIDATOR_WORKER_THREADS", Integer.toString(cfg.threadsPerWorker()));
    daemonEnv.put("INVALIDATOR_TRANSPORT", transport);
    if (bootstrap != null) {
      daemonEnv.put("INVALIDATOR_KAFKA_BOOTSTRAP", bootstrap);
      daemonEnv.put("INVALIDATOR_KAFKA_TOPIC", topic);
      daemonEnv.put("INVALIDATOR_KAFKA_PARTITIONS", Integer.toString(partitions(cfg)));
    }
    List<Process> processes = new ArrayList<>();
    List<Point> points = new ArrayList<>();
    Admin admin =
        bootstrap == null
            ? null
            : Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    try {
      out.printf(
          "  %s: starting one relay process and %d worker process(es)...%n",
          transport, cfg.workers().get(0));
      long t0 = System.nanoTime();
      List<Process> starting = new ArrayList<>();
      List<Path> logs = new ArrayList<>();
      Path relayLog = log(logBase, transport, "relay");
      starting.add(
          DaemonProcesses.startDaemon(List.of("run", "--role", "relay"), daemonEnv, relayLog));
      logs.add(relayLog);
      int running = 0;
      for (int count : cfg.workers()) {
        for (int k = running + 1; k <= count; k++) {
          Path workerLog = log(logBase, transport, "worker-" + k);
          starting.add(
              DaemonProcesses.startDaemon(
                  List.of("run", "--role", "worker"), daemonEnv, workerLog));
          logs.add(workerLog);
        }
        if (running > 0) {
          out.printf("  %s: starting %d more worker process(es)...%n", transport, count - running);
          t0 = System.nanoTime();
        }
        processes.addAll(starting);
        DaemonProcesses.awaitReady(starting, logs, 120);
        starting.clear();
        logs.clear();
        running = count;
        int consumers = count * cfg.threadsPerWorker();
        awaitMembers(group, admin, consumers, Duration.ofSeconds(120));
        out.printf(
            "  %s: %d worker process(es), %d consumers in the group, ready in %.1f s%n",
            transport, count, consumers, (System.nanoTime() - t0) / 1e9);

        // Warm-up (not measured): the new processes' first events, JIT included.
        backlog(env, outbox, keys, base, cfg.warmupEvents(), round, out);
        base += cfg.warmupEvents();

        Measured m = backlog(env, outbox, keys, base, cfg.events(), round, out);
        long stale = RedisFixtures.countEntries(env.connection(), keys, base, base + cfg.events());
        long lost =
            RedisFixtures.countFencesBelow(env.connection(), keys, base, base + cfg.events(), 1);
        base += cfg.events();
        Point p =
            new Point(
                transport,
                count,
                consumers,
                cfg.events(),
                m.seconds,
                m.seconds > 0 ? cfg.events() / m.seconds : 0,
                m.relayDoneSeconds,
                stale,
                lost);
        points.add(p);
        out.printf(
            "  %s, %d worker process(es): %,.0f events/s (%,d events in %.2f s; relay done after"
                + " %.2f s); stale %d, lost %d%n",
            transport,
            count,
            p.eventsPerSecond(),
            p.events(),
            p.seconds(),
            p.relayDoneSeconds(),
            stale,
            lost);
      }
    } finally {
      DaemonProcesses.stop(processes, out);
      if (admin != null) {
        if (bootstrap != null && !bootstrap.isEmpty()) {
          try {
            admin.deleteConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS);
            admin.deleteTopics(List.of(topic, topic + "-dlt")).all().get(30, TimeUnit.SECONDS);
          } catch (Exception ex) {
            out.printf("  could not delete Kafka topic %s or group %s: %s%n", topic, group, ex);
          }
        }
        admin.close(Duration.ofSeconds(10));
      }
      env.deleteKeys(keys);
    }
    return points;
  }

  private static Path log(Path base, String transport, String role) {
    String name = base.getFileName().toString();
    int dot = name.lastIndexOf('.');
    String stem = dot > 0 ? name.substring(0, dot) : name;
    return base.resolveSibling(stem + ".scale-out-" + transport + "-" + role + ".log");
  }

  private record Measured(double seconds, double relayDoneSeconds) {}

  /**
   * Writes {@code n} cache entries from aggregate {@code first}, commits one outbox row for each in
   * one transaction, and waits until every entry is gone (or nothing moved for {@link #STALL}).
   */
  private static Measured backlog(
      BenchEnvironment env,
      OutboxTable outbox,
      KeyScheme keys,
      long first,
      long n,
      AtomicReference<Round> round,
      PrintStream out)
      throws Exception {
    RedisFixtures.fillEntries(env.connection(), keys, first, first + n);
    Round r = new Round();
    for (long i = first; i < first + n; i++) {
      r.remaining.add(keys.entry(RedisFixtures.aggregate(i), RedisFixtures.VIEW));
    }
    round.set(r);
    long committed =
        OutboxBacklog.fill(env, outbox, first, n, OutboxBacklog.Shape.FIXTURE, true, out);
    r.lastDeleted.set(committed);
    long relayDone = 0;
    // Polls of 5 ms without a deletion, not clock time (see DaemonProcesses.awaitReady).
    long stallPolls = 0;
    int lastSize = r.remaining.size();
    long nextSample = 0;
    while (!r.remaining.isEmpty()) {
      long now = System.nanoTime();
      if (relayDone == 0 && now >= nextSample) {
        nextSample = now + TimeUnit.MILLISECONDS.toNanos(100);
        if (unrelayed(env, outbox) == 0) {
          relayDone = System.nanoTime();
        }
      }
      int size = r.remaining.size();
      if (size != lastSize) {
        lastSize = size;
        stallPolls = 0;
      } else if (++stallPolls > STALL.toMillis() / 5) {
        out.printf(
            "  %,d entries still present after %d s without progress%n", size, STALL.toSeconds());
        break;
      }
      Thread.sleep(5);
    }
    if (relayDone == 0 && unrelayed(env, outbox) == 0) {
      relayDone = System.nanoTime();
    }
    double seconds = (r.lastDeleted.get() - committed) / 1e9;
    return new Measured(seconds, relayDone == 0 ? Double.NaN : (relayDone - committed) / 1e9);
  }

  private static long unrelayed(BenchEnvironment env, OutboxTable outbox) throws Exception {
    try (Connection c = env.dataSource().getConnection();
        Statement st = c.createStatement();
        ResultSet rs =
            st.executeQuery(
                "SELECT count(*) FROM " + env.qualified(outbox) + " WHERE relayed_at IS NULL")) {
      rs.next();
      return rs.getLong(1);
    }
  }

  /**
   * Waits until the group has {@code consumers} members. On Kafka: a stable group with that many
   * members, each assigned partitions. On Redis there is nothing to wait for: a worker reads with
   * XREADGROUP once it logged that it runs, and no rebalance happens when another joins (Redis 6.2
   * does not even list a consumer whose blocking read was not yet served).
   */
  private static void awaitMembers(String group, Admin admin, int consumers, Duration max)
      throws Exception {
    if (admin == null) {
      return;
    }
    // Counted in polls of 100 ms, not on the clock (see DaemonProcesses.awaitReady).
    long polls = max.toMillis() / 100;
    String seen = "";
    while (polls-- > 0) {
      ConsumerGroupDescription d;
      try {
        d =
            admin
                .describeConsumerGroups(List.of(group))
                .describedGroups()
                .get(group)
                .get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException ex) {
        // Until the first worker joins, the group does not exist yet: keep waiting.
        if (!(ex.getCause() instanceof org.apache.kafka.common.errors.GroupIdNotFoundException)) {
          throw ex;
        }
        seen = "no group yet";
        Thread.sleep(100);
        continue;
      }
      seen = d.groupState() + " with " + d.members().size() + " members";
      if (d.groupState() == GroupState.STABLE
          && d.members().size() == consumers
          && d.members().stream().allMatch(m -> !m.assignment().topicPartitions().isEmpty())) {
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException(
        "group " + group + " did not reach " + consumers + " members within " + max + ": " + seen);
  }
}
