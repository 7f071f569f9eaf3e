package dev.invalidator.bench;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Scenario 1, write-path overhead: the same business transaction (update one random account row,
 * bump its version, commit) with and without {@link OutboxWriter#append} of its event, and with
 * {@link OutboxWriter#appendAndCommit} (the insert sent with the commit), same client count, each
 * client on its own connection in a closed loop. The variants alternate A-B-C-A-B-C so a shared
 * machine's drift hits all of them.
 */
final class WritePathScenario {
  private WritePathScenario() {}

  static ScenarioResult run(BenchEnvironment env, BenchSettings s, PrintStream out)
      throws Exception {
    String accounts = env.accounts("write_accounts", s.accounts());
    OutboxTable outbox = env.outbox("write_outbox");
    OutboxWriter writer = OutboxWriter.create(outbox);
    // Diagnostic third variant: the same insert into a copy of the table without the trigger
    // that NOTIFYs the relay, to show what the wake-up costs.
    OutboxWriter silentWriter =
        OutboxWriter.create(env.likeWithoutTrigger(outbox, "write_outbox_nonotify"));
    String update =
        "UPDATE "
            + accounts
            + " SET balance = balance + 1, version = version + 1 WHERE id = ?"
            + " RETURNING version";
    List<Connection> connections = new ArrayList<>();
    List<PreparedStatement> statements = new ArrayList<>();
    try {
      for (int i = 0; i < s.clients(); i++) {
        Connection c = env.connect();
        c.setAutoCommit(false);
        connections.add(c);
        statements.add(c.prepareStatement(update));
      }
      ClosedLoop.Op bare = client -> transaction(connections, statements, client, null, false, s);
      ClosedLoop.Op withOutbox =
          client -> transaction(connections, statements, client, writer, false, s);
      ClosedLoop.Op withOutboxOneTrip =
          client -> transaction(connections, statements, client, writer, true, s);
      ClosedLoop.Op withoutNotify =
          client -> transaction(connections, statements, client, silentWriter, false, s);
      ClosedLoop.Result baseline = new ClosedLoop.Result();
      ClosedLoop.Result subject = new ClosedLoop.Result();
      ClosedLoop.Result silent = new ClosedLoop.Result();
      ClosedLoop.Result oneTrip = new ClosedLoop.Result();
      Duration half = s.writeDuration().dividedBy(2);
      Duration warmup = min(Duration.ofSeconds(2), half.dividedBy(4));
      for (int round = 1; round <= 2; round++) {
        out.printf("  round %d/2: bare transaction for %d s...%n", round, half.toSeconds());
        ClosedLoop.run(s.clients(), warmup, half, bare, baseline);
        out.printf("  round %d/2: with outbox insert for %d s...%n", round, half.toSeconds());
        ClosedLoop.run(s.clients(), warmup, half, withOutbox, subject);
        out.printf(
            "  round %d/2: with outbox insert sent with the COMMIT (appendAndCommit) for %d s...%n",
            round, half.toSeconds());
        ClosedLoop.run(s.clients(), warmup, half, withOutboxOneTrip, oneTrip);
        out.printf(
            "  round %d/2: with outbox insert, no NOTIFY trigger (diagnostic) for %d s...%n",
            round, half.toSeconds());
        ClosedLoop.run(s.clients(), warmup, half, withoutNotify, silent);
      }
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("clients", s.clients());
      details.put("accountRows", s.accounts());
      details.put("transactionsBare", baseline.count);
      details.put("transactionsWithOutbox", subject.count);
      details.put("secondsPerVariant", baseline.elapsedNanos / 1e9);
      details.put(
          "throughputOverheadPercent",
          round((1 - subject.perSecond() / baseline.perSecond()) * 100));
      details.put("transactionsAppendAndCommit", oneTrip.count);
      details.put(
          "appendAndCommitThroughputOverheadPercent",
          round((1 - oneTrip.perSecond() / baseline.perSecond()) * 100));
      details.put(
          "appendAndCommitP50OverheadPercent",
          round((oneTrip.p50Ms() / baseline.p50Ms() - 1) * 100));
      details.put("diagnosticNoNotifyThroughput", round(silent.perSecond()));
      details.put("diagnosticNoNotifyP50Ms", silent.p50Ms());
      details.put("diagnosticNoNotifyP99Ms", silent.p99Ms());
      details.put("p50OverheadPercent", round((subject.p50Ms() / baseline.p50Ms() - 1) * 100));
      return new ScenarioResult(
          "write-path",
          "1. write-path overhead",
          "business transaction: UPDATE one random account row (balance + 1, version + 1,"
              + " RETURNING version) + OutboxWriter.append of its event + COMMIT; latency from the"
              + " UPDATE to COMMIT returning; and the same with appendAndCommit (the INSERT sent"
              + " with the COMMIT, one round trip); "
              + s.clients()
              + " clients, own connection each, closed loop",
          "the same transaction without the outbox insert, same clients, alternated A-B-A-B",
          List.of(
              Figure.latency("commit latency p50 (ms)", subject.p50Ms(), baseline.p50Ms()),
              Figure.latency("commit latency p99 (ms)", subject.p99Ms(), baseline.p99Ms()),
              Figure.rate("throughput (tx/s)", "tx/s", subject.perSecond(), baseline.perSecond()),
              Figure.latency(
                  "appendAndCommit: commit latency p50 (ms)", oneTrip.p50Ms(), baseline.p50Ms()),
              Figure.latency(
                  "appendAndCommit: commit latency p99 (ms)", oneTrip.p99Ms(), baseline.p99Ms()),
              Figure.rate(
                  "appendAndCommit: throughput (tx/s)",
                  "tx/s",
                  oneTrip.perSecond(),
                  baseline.perSecond())),
          details);
    } finally {
      for (Connection c : connections) {
        c.close();
      }
    }
  }

  private static void transaction(
      List<Connection> connections,
      List<PreparedStatement> statements,
      int client,
      OutboxWriter writer,
      boolean oneTrip,
      BenchSettings s)
      throws SQLException {
    Connection c = connections.get(client);
    PreparedStatement ps = statements.get(client);
    int id = ThreadLocalRandom.current().nextInt(s.accounts());
    ps.setInt(1, id);
    long version;
    try (ResultSet rs = ps.executeQuery()) {
      rs.next();
      version = rs.getLong(1);
    }
    if (writer == null) {
      c.commit();
      return;
    }
    InvalidationEvent event =
        InvalidationEvent.builder()
            .tenant("t" + (id % 8))
            .aggregate("account", "a" + id)
            .version(version)
            .build();
    if (oneTrip) {
      writer.appendAndCommit(c, event);
    } else {
      writer.append(c, event);
      c.commit();
    }
  }

  static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  static double round(double d) {
    return Math.round(d * 10) / 10.0;
  }
}
