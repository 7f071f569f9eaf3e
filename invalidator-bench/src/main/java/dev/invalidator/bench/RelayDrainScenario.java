package dev.invalidator.bench;

import dev.invalidator.cdc.CdcBacklogDrain;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.outbox.PollingRelay;
import dev.invalidator.outbox.RelayListener;
import dev.invalidator.redis.RedisStreamPublisher;
import java.io.PrintStream;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * Scenario 2, relay drain: a backlog of committed outbox rows drained to the Redis stream by one
 * {@link PollingRelay} loop (the daemon's relay, {@code relay.batchSize} rows per transaction),
 * against the database's single-row insert rate measured just before on the same table.
 */
final class RelayDrainScenario {
  private RelayDrainScenario() {}

  static ScenarioResult run(BenchEnvironment env, BenchSettings s, PrintStream out)
      throws Exception {
    OutboxTable outbox = env.outbox("drain_outbox");
    KeyScheme keys = env.keys("drain");
    // Baseline: single-row inserts, each its own transaction (one commit, one WAL flush per row),
    // into a plain table shaped like the outbox (no wake-up trigger): the database's raw rate.
    OutboxWriter writer = OutboxWriter.create(env.likeWithoutTrigger(outbox, "drain_raw"));
    out.printf(
        "  baseline: raw single-row inserts of outbox rows, auto-commit, %d clients, %d s...%n",
        s.clients(), s.insertBaselineDuration().toSeconds());
    List<Connection> connections = new ArrayList<>();
    AtomicLong version = new AtomicLong();
    ClosedLoop.Result inserts = new ClosedLoop.Result();
    try {
      for (int i = 0; i < s.clients(); i++) {
        Connection c = env.connect();
        c.setAutoCommit(true);
        connections.add(c);
      }
      ClosedLoop.run(
          s.clients(),
          WritePathScenario.min(Duration.ofSeconds(1), s.insertBaselineDuration().dividedBy(4)),
          s.insertBaselineDuration(),
          client -> {
            long v = version.incrementAndGet();
            writer.append(
                connections.get(client),
                InvalidationEvent.builder()
                    .tenant("t" + (v % 8))
                    .aggregate("account", "a" + (v % 100_000))
                    .version(v)
                    .build());
          },
          inserts);
    } finally {
      for (Connection c : connections) {
        c.close();
      }
    }

    // The backlog: bulk inserts (not measured).
    long missing = s.backlog();
    out.printf("  building a backlog of %,d rows...%n", missing);
    fill(env, outbox, missing, out);
    long backlog = OutboxStats.read(env.dataSource(), outbox).pending();

    // The drain.
    LongAdder relayed = new LongAdder();
    PollingRelay relay =
        PollingRelay.builder(
                env.dataSource(),
                outbox,
                new RedisStreamPublisher(env.connection(), keys, Clock.systemUTC()))
            .batchSize(s.relayBatchSize())
            .listener(
                new RelayListener() {
                  @Override
                  public void published(int count, Duration oldestAgeInBatch) {
                    relayed.add(count);
                  }
                })
            .build();
    out.printf(
        "  draining %,d rows with one relay loop (batch %d growing to %d, %d in flight)...%n",
        backlog,
        s.relayBatchSize(),
        PollingRelay.DEFAULT_MAX_BATCH_SIZE,
        PollingRelay.DEFAULT_CONCURRENCY);
    long start = System.nanoTime();
    Progress progress = Progress.every(out, 5000, "relayed", backlog, relayed::sum);
    // The daemon's loop (run()), with its default growth and concurrency; it is stopped once
    // every row of the backlog was published.
    Thread loop = new Thread(relay, "bench-drain-relay");
    long elapsed;
    try {
      loop.start();
      while (relayed.sum() < backlog && loop.isAlive()) {
        Thread.sleep(1);
      }
      elapsed = System.nanoTime() - start;
    } finally {
      relay.stop();
      loop.join(30_000);
      progress.close();
    }
    long streamLength = env.connection().sync().xlen(keys.stream());
    double drainRate = relayed.sum() * 1e9 / elapsed;
    env.deleteKeys(keys);

    // The peer: Debezium's embedded engine (PostgreSQL connector, pgoutput) draining a backlog of
    // the same size into the same kind of stream, marking rows relayed as a production relay does
    // (the invalidator-cdc relay: it reads the backlog with an initial snapshot of the unrelayed
    // rows, then streams). It reads PostgreSQL's WAL: on MySQL/MariaDB there is no peer, and the
    // report says so.
    CdcBacklogDrain.Result cdc = null;
    if (env.mysql()) {
      out.printf(
          "  peer: none on MySQL/MariaDB (the Debezium relay reads PostgreSQL's WAL); the drain is"
              + " compared with the insert rate only%n");
    } else {
      OutboxTable cdcOutbox = env.outbox("drain_cdc_outbox");
      KeyScheme cdcKeys = env.keys("draincdc");
      out.printf("  peer: building the same backlog of %,d rows for Debezium...%n", backlog);
      fill(env, cdcOutbox, backlog, out);
      out.printf("  peer: draining it with Debezium's embedded engine (invalidator-cdc)...%n");
      cdc =
          CdcBacklogDrain.drain(
              env.jdbcUrl(),
              cdcOutbox,
              new RedisStreamPublisher(env.connection(), cdcKeys, Clock.systemUTC()),
              backlog,
              true,
              Duration.ofMinutes(30));
      env.deleteKeys(cdcKeys);
    }

    Map<String, Object> details = new LinkedHashMap<>();
    details.put("backlogRows", backlog);
    details.put("relayed", relayed.sum());
    details.put("streamLengthAfterDrain", streamLength);
    details.put("drainSeconds", elapsed / 1e9);
    details.put("relayBatchSize", s.relayBatchSize());
    details.put("insertBaselineClients", s.clients());
    details.put("insertBaselineRows", inserts.count);
    details.put("insertBaselineP50Ms", inserts.p50Ms());
    details.put("insertBaselineP99Ms", inserts.p99Ms());
    details.put("database", env.dialect().name());
    List<Figure> figures = new ArrayList<>();
    figures.add(
        Figure.rate(
            "drain (events/s) vs single-row inserts/s",
            "events/s",
            drainRate,
            inserts.perSecond()));
    if (cdc != null) {
      details.put("debeziumDrainSeconds", cdc.elapsed().toMillis() / 1e3);
      details.put("debeziumUntilFirstEventSeconds", cdc.untilFirstEvent().toMillis() / 1e3);
      details.put("debeziumEventsPerSecondAfterStart", cdc.eventsPerSecondAfterStart());
      figures.add(
          Figure.rate(
              "drain (events/s) vs Debezium embedded engine draining the same backlog",
              "events/s",
              drainRate,
              cdc.eventsPerSecond()));
    } else {
      details.put("debeziumPeer", "none: the CDC relay reads PostgreSQL's WAL only");
    }
    return new ScenarioResult(
        "relay-drain",
        env.mysql() ? "2. relay drain (MySQL/MariaDB)" : "2. relay drain",
        "rows/s one PollingRelay loop (run(), as in the daemon) moves from a committed backlog of "
            + backlog
            + " rows to the stream: "
            + (env.mysql()
                ? "claim (SELECT ... FOR UPDATE SKIP LOCKED at READ COMMITTED) then mark (UPDATE)"
                : "claim and mark (UPDATE ... RETURNING, FOR UPDATE SKIP LOCKED)")
            + " batches of "
            + s.relayBatchSize()
            + " doubling to "
            + PollingRelay.DEFAULT_MAX_BATCH_SIZE
            + " while full, "
            + PollingRelay.DEFAULT_CONCURRENCY
            + " in flight, the batch's XADDs in xadd.lua calls of at most "
            + RedisStreamPublisher.ENTRIES_PER_SCRIPT
            + " entries, sent pipelined, commit; wall time from the start to the last publish",
        "raw single-row INSERTs of one outbox row (OutboxWriter.append on an auto-commit"
            + " connection: one INSERT and one commit, one WAL flush, per row) from "
            + s.clients()
            + " clients in a closed loop, into a plain table shaped like the outbox (same columns,"
            + " defaults and indexes, no wake-up trigger), just before the drain",
        figures,
        details);
  }

  /** Bulk-inserts {@code missing} committed outbox rows (not measured) and analyzes the table. */
  private static void fill(BenchEnvironment env, OutboxTable outbox, long missing, PrintStream out)
      throws Exception {
    OutboxBacklog.fill(env, outbox, 1, missing, OutboxBacklog.Shape.DRAIN, false, out);
    OutboxBacklog.analyze(env, outbox);
  }
}
