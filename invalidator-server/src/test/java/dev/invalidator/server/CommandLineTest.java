package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.testing.ConsoleCapture;
import dev.invalidator.testing.TestServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI as a user runs it: status output, help, configuration errors, and SIGTERM. */
class CommandLineTest {
  @TempDir Path dir;
  private Path config;
  private String table;
  private String prefix;

  @BeforeEach
  void setUp() throws Exception {
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    table = "outbox_c" + id;
    prefix = "c" + id;
    config = dir.resolve("invalidator.yaml");
    Files.writeString(
        config,
        "postgres:\n  url: \""
            + TestServers.postgresUrl()
            + "\"\n  table: "
            + table
            + "\nredis:\n  url: "
            + TestServers.redisUrl()
            + "\n  prefix: "
            + prefix
            + "\nworker:\n  block: 100ms\nadmin:\n  port: 0\n");
  }

  @AfterEach
  void tearDown() throws Exception {
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + table + "_schema_history");
    }
  }

  private static ConsoleCapture.Result cli(String... args) {
    return ConsoleCapture.run(Main::execute, args);
  }

  @Test
  void everyCommandHasHelp() {
    for (String cmd :
        new String[] {"migrate", "run", "status", "flush", "dlq", "replay", "verify", "cdc"}) {
      ConsoleCapture.Result r = cli(cmd, "--help");
      assertThat(r.exit()).as(cmd).isZero();
      assertThat(r.out()).as(cmd).contains("Usage: invalidator " + cmd);
    }
    assertThat(cli("--help").out()).contains("migrate", "run", "status");
  }

  /** The deployed daemon carries no tooling: demo and bench live in the distribution. */
  @Test
  void theDaemonHasNoDemoOrBench() {
    assertThat(cli("--help").out()).doesNotContain("demo").doesNotContain("bench");
    assertThat(cli("demo").exit()).isEqualTo(2);
    assertThat(cli("bench").exit()).isEqualTo(2);
  }

  @Test
  void migrateDropRemovesEverythingMigrateCreatedAndRefusesWhileRowsWait() throws Exception {
    assertThat(cli("migrate", "--config", config.toString()).exit()).isZero();
    OutboxTable t = OutboxTable.of("public", table);
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl())) {
      c.setAutoCommit(false);
      OutboxWriter.create(t)
          .append(
              c,
              InvalidationEvent.builder()
                  .tenant("acme")
                  .aggregate("account", "1")
                  .version(1)
                  .build());
      c.commit();
    }
    ConsoleCapture.Result refused = cli("migrate", "--drop", "--config", config.toString());
    assertThat(refused.exit()).isEqualTo(1);
    assertThat(refused.err()).contains("1 rows wait to be relayed").contains("--force");
    assertThat(objects())
        .containsExactlyInAnyOrder(table, table + "_schema_history", table + "_wakeup");

    ConsoleCapture.Result dropped =
        cli("migrate", "--drop", "--force", "--config", config.toString());
    assertThat(dropped.exit()).as(dropped.err()).isZero();
    assertThat(dropped.out()).contains("dropped table").contains("function");
    assertThat(objects()).isEmpty();
    assertThat(cli("migrate", "--drop", "--config", config.toString()).out())
        .contains("nothing to drop");
  }

  /** The outbox's table, history table and wake-up function that exist in the database. */
  private List<String> objects() throws Exception {
    List<String> out = new ArrayList<>();
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
        Statement s = c.createStatement();
        java.sql.ResultSet rs =
            s.executeQuery(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE '"
                    + table
                    + "%' UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE '"
                    + table
                    + "%'")) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    }
    return out;
  }

  @Test
  void statusWaitDrainedExitsZeroWhenNothingIsLeftAndThreeOnTimeout() throws Exception {
    assertThat(cli("migrate", "--config", config.toString()).exit()).isZero();
    ConsoleCapture.Result empty =
        cli("status", "--wait-drained", "5s", "--config", config.toString(), "--json");
    assertThat(empty.exit()).as(empty.err()).isZero();
    assertThat(empty.err()).contains("drained");
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl())) {
      c.setAutoCommit(false);
      OutboxWriter.create(OutboxTable.of("public", table))
          .append(
              c,
              InvalidationEvent.builder()
                  .tenant("acme")
                  .aggregate("account", "1")
                  .version(1)
                  .build());
      c.commit();
    }
    // No relay runs: the row waits, so the wait must time out and say what is left.
    ConsoleCapture.Result waiting =
        cli("status", "--wait-drained", "1500ms", "--config", config.toString());
    assertThat(waiting.exit()).isEqualTo(3);
    assertThat(waiting.err()).contains("not drained after").contains("outbox 1");
  }

  @Test
  void statusReportsOutboxBacklogAndStreamAsJson() throws Exception {
    assertThat(cli("migrate", "--config", config.toString()).exit()).isZero();
    OutboxTable t = OutboxTable.of("public", table);
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl())) {
      c.setAutoCommit(false);
      OutboxWriter.create(t)
          .append(
              c,
              InvalidationEvent.builder()
                  .tenant("acme")
                  .aggregate("account", "1")
                  .version(3)
                  .build());
      c.commit();
    }
    ConsoleCapture.Result r = cli("status", "--config", config.toString(), "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertThat(json.get("outbox_pending").asLong()).isEqualTo(1);
    assertThat(json.get("outbox_oldest_age_seconds").asDouble()).isGreaterThanOrEqualTo(0);
    assertThat(json.get("stream").asText()).isEqualTo(prefix + ":stream");
    assertThat(json.get("dlq_depth").asLong()).isZero();

    ConsoleCapture.Result table = cli("status", "--config", config.toString());
    assertThat(table.out()).contains("outbox_pending").contains("CONSUMER");
  }

  private static java.util.Map<String, String> entryOf(String tenant, String id) {
    InvalidationEvent e =
        InvalidationEvent.builder().tenant(tenant).aggregate("account", id).version(5).build();
    return dev.invalidator.core.StreamEntry.fields(
        1, e, java.time.Instant.now(), java.time.Instant.now());
  }

  @Test
  void dlqListsRedrivesAndDropsWithDryRunsThatChangeNothing() throws Exception {
    dev.invalidator.core.KeyScheme keys = new dev.invalidator.core.KeyScheme(prefix);
    try (io.lettuce.core.RedisClient client =
            io.lettuce.core.RedisClient.create(TestServers.redisUrl());
        var conn = client.connect()) {
      dev.invalidator.redis.RedisDeadLetters dlq =
          new dev.invalidator.redis.RedisDeadLetters(conn, keys);
      java.time.Instant t = java.time.Instant.now();
      dlq.add(
          new dev.invalidator.core.DeadLetter(
              "1-0", entryOf("acme", "1"), "redis", "retries_exhausted", 16, t, t, "down"));
      dlq.add(
          new dev.invalidator.core.DeadLetter(
              "2-0", entryOf("beta", "2"), "redis", "retries_exhausted", 16, t, t, "down"));
      String cfg = config.toString();

      JsonNode all = new ObjectMapper().readTree(cli("dlq", "list", "-c", cfg, "--json").out());
      assertThat(all).hasSize(2);
      JsonNode acme =
          new ObjectMapper()
              .readTree(cli("dlq", "list", "-c", cfg, "--tenant", "acme", "--json").out());
      assertThat(acme).hasSize(1);

      ConsoleCapture.Result dry = cli("dlq", "redrive", "-c", cfg, "--tenant", "acme", "--dry-run");
      assertThat(dry.out()).contains("would redrive 1 dead letter(s)");
      assertThat(dlq.depth()).isEqualTo(2);
      assertThat(conn.sync().exists(keys.stream())).isZero();

      ConsoleCapture.Result redrive = cli("dlq", "redrive", "-c", cfg, "--tenant", "acme");
      assertThat(redrive.exit()).as(redrive.err()).isZero();
      assertThat(redrive.out()).contains("redrove 1 dead letter(s)");
      assertThat(dlq.depth()).isEqualTo(1);
      var back = conn.sync().xrange(keys.stream(), io.lettuce.core.Range.create("-", "+"));
      assertThat(back).hasSize(1);
      assertThat(dev.invalidator.core.StreamEntry.event(back.get(0).getBody()).tenantId())
          .isEqualTo("acme");

      assertThat(cli("dlq", "drop", "-c", cfg, "--dry-run").out())
          .contains("would drop 1 dead letter(s)");
      assertThat(dlq.depth()).isEqualTo(1);
      assertThat(cli("dlq", "drop", "-c", cfg).out()).contains("dropped 1 dead letter(s)");
      assertThat(dlq.depth()).isZero();
    }
  }

  @Test
  void replayRepublishesRelayedRowsOfTheWindowAndTenant() throws Exception {
    assertThat(cli("migrate", "--config", config.toString()).exit()).isZero();
    OutboxTable t = OutboxTable.of("public", table);
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl())) {
      c.setAutoCommit(false);
      OutboxWriter w = OutboxWriter.create(t);
      w.append(
          c,
          InvalidationEvent.builder().tenant("acme").aggregate("account", "1").version(2).build());
      w.append(
          c,
          InvalidationEvent.builder().tenant("acme").aggregate("account", "2").version(2).build());
      w.append(
          c,
          InvalidationEvent.builder().tenant("beta").aggregate("account", "3").version(2).build());
      c.commit();
    }
    dev.invalidator.core.KeyScheme keys = new dev.invalidator.core.KeyScheme(prefix);
    try (io.lettuce.core.RedisClient client =
            io.lettuce.core.RedisClient.create(TestServers.redisUrl());
        var conn = client.connect()) {
      org.postgresql.ds.PGSimpleDataSource ds = new org.postgresql.ds.PGSimpleDataSource();
      ds.setURL(TestServers.postgresUrl());
      dev.invalidator.outbox.PollingRelay.builder(
              ds,
              t,
              new dev.invalidator.redis.RedisStreamPublisher(
                  conn, keys, java.time.Clock.systemUTC()))
          .build()
          .drain();
      assertThat(conn.sync().xlen(keys.stream())).isEqualTo(3);
      String cfg = config.toString();

      ConsoleCapture.Result dry = cli("replay", "-c", cfg, "--since", "1h", "--dry-run");
      assertThat(dry.exit()).as(dry.err()).isZero();
      assertThat(dry.out()).contains("would re-publish 3 row(s)");
      assertThat(conn.sync().xlen(keys.stream())).isEqualTo(3);

      ConsoleCapture.Result acme = cli("replay", "-c", cfg, "--since", "1h", "--tenant", "acme");
      assertThat(acme.exit()).as(acme.err()).isZero();
      assertThat(acme.out()).contains("re-published 2 row(s)");
      assertThat(conn.sync().xlen(keys.stream())).isEqualTo(5);

      ConsoleCapture.Result future = cli("replay", "-c", cfg, "--since", "1m", "--until", "2h");
      assertThat(future.exit()).isEqualTo(2);
      assertThat(future.err()).contains("--since");
    }
  }

  @Test
  void wrongConfigurationStopsStartUpNamingTheSetting() throws Exception {
    Files.writeString(config, "relay:\n  batchSize: -3\n", java.nio.file.StandardOpenOption.APPEND);
    ConsoleCapture.Result r = cli("run", "--config", config.toString());
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("relay.batchSize").contains("INVALIDATOR_RELAY_BATCH_SIZE");
  }

  @Test
  void kafkaTransportWithoutBootstrapStopsStartUpNamingTheSetting() {
    ConsoleCapture.Result r = cli("run", "--config", config.toString(), "--transport", "kafka");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err())
        .contains("kafka.bootstrap")
        .contains("INVALIDATOR_KAFKA_BOOTSTRAP")
        .contains("--kafka-bootstrap");
  }

  @Test
  void relayFlagIsListedAndAWrongValueIsRefusedNamingTheFlag() {
    assertThat(cli("run", "--help").out()).contains("--relay=polling|cdc").contains("relay.mode");
    ConsoleCapture.Result r = cli("run", "--config", config.toString(), "--relay", "sideways");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err())
        .contains("--relay must be polling or cdc, got 'sideways'")
        .doesNotContain("INVALIDATOR_RELAY_MODE");
  }

  @Test
  void relayCdcIsRefusedOnMariaDbNamingTheFlag() {
    ConsoleCapture.Result r =
        cli(
            "run",
            "--config",
            config.toString(),
            "--db-url",
            "jdbc:mariadb://127.0.0.1:1/app",
            "--relay",
            "cdc");
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err())
        .contains("--relay: cdc reads PostgreSQL's WAL; the outbox database is mysql")
        .contains("use --relay polling")
        .doesNotContain("INVALIDATOR_RELAY_MODE");
  }

  /** {@code run --relay cdc} over a configuration without relay.mode: the CDC relay relays. */
  @Test
  void runWithRelayCdcRelaysThroughTheReplicationSlot() throws Exception {
    OutboxTable t = OutboxTable.of("public", table);
    OutboxSchema.migrate(
        new org.postgresql.ds.PGSimpleDataSource() {
          {
            setURL(TestServers.postgresUrl());
          }
        },
        t);
    Path log = dir.resolve("run-cdc.log");
    Process p = runDaemon(log, "--relay", "cdc");
    try {
      try {
        await()
            .atMost(Duration.ofSeconds(90))
            .until(() -> Files.readString(log).contains("invalidator running"));
      } catch (org.awaitility.core.ConditionTimeoutException ex) {
        throw new AssertionError(
            "the daemon did not start; transactions open on the server: "
                + openTransactions()
                + "; its output:\n"
                + Files.readString(log),
            ex);
      }
      try (Connection c = DriverManager.getConnection(TestServers.postgresUrl())) {
        c.setAutoCommit(false);
        OutboxWriter.create(t)
            .append(
                c,
                InvalidationEvent.builder()
                    .tenant("acme")
                    .aggregate("account", "9")
                    .version(3)
                    .build());
        c.commit();
      }
      try (io.lettuce.core.RedisClient client =
              io.lettuce.core.RedisClient.create(TestServers.redisUrl());
          var conn = client.connect()) {
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> "3".equals(conn.sync().get(prefix + ":{acme|account|9}:fence")));
      }
      try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
          Statement s = c.createStatement();
          var rs =
              s.executeQuery(
                  "SELECT active FROM pg_replication_slots WHERE slot_name = '"
                      + table
                      + "_cdc_slot'")) {
        assertThat(rs.next()).as("the CDC relay's slot exists").isTrue();
        assertThat(rs.getBoolean(1)).as("and the daemon streams from it").isTrue();
      }
      assertThat(Files.readString(log)).contains("CDC relay for");
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
    } finally {
      p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      dev.invalidator.cdc.CdcRelay.builder(TestServers.postgresUrl(), t, batch -> {})
          .build()
          .decommission();
      try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
          Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS " + table + "_cdc_offsets");
      }
    }
  }

  /**
   * Sessions holding a transaction id (a logical slot's creation waits for every one of them), for
   * a failure message.
   */
  private static List<String> openTransactions() throws java.sql.SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
        Statement s = c.createStatement();
        var rs =
            s.executeQuery(
                "SELECT pid, state, backend_xid, left(query, 120) FROM pg_stat_activity"
                    + " WHERE backend_xid IS NOT NULL OR state LIKE 'idle in transaction%'")) {
      while (rs.next()) {
        out.add(
            rs.getInt(1) + " " + rs.getString(2) + " " + rs.getString(3) + " " + rs.getString(4));
      }
    }
    return out;
  }

  /** {@code invalidator run --config <config> <extra...>} in a child JVM, output to {@code log}. */
  private Process runDaemon(Path log, String... extra) throws java.io.IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    cmd.add(Main.class.getName());
    cmd.add("run");
    cmd.add("--config");
    cmd.add(config.toString());
    cmd.addAll(List.of(extra));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  @Test
  void wrongOptionValueIsRefusedNamingTheOptionNotAVariable() {
    ConsoleCapture.Result dlq =
        cli("dlq", "list", "--config", config.toString(), "--older-than", "a while");
    assertThat(dlq.exit()).isEqualTo(2);
    assertThat(dlq.err())
        .contains("--older-than: 'a while' is not a duration")
        .doesNotContain("INVALIDATOR_--");
  }

  @Test
  void passwordsNeverReachTheLog() throws Exception {
    ConsoleCapture.Result r =
        cli(
            "status",
            "--redis-url",
            "redis://user:hunter2@127.0.0.1:1",
            "--config",
            config.toString());
    assertThat(r.exit()).isNotZero();
    assertThat(r.out() + r.err()).doesNotContain("hunter2").contains("****");
  }

  @Test
  void runFinishesItsWorkAndExitsCleanlyOnSigterm() throws Exception {
    OutboxSchema.migrate(
        new org.postgresql.ds.PGSimpleDataSource() {
          {
            setURL(TestServers.postgresUrl());
          }
        },
        OutboxTable.of("public", table));
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
    cmd.add(Main.class.getName());
    cmd.add("run");
    cmd.add("--config");
    cmd.add(config.toString());
    Path log = dir.resolve("run.log");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> Files.readString(log).contains("invalidator running"));
      try (Connection c = DriverManager.getConnection(TestServers.postgresUrl())) {
        c.setAutoCommit(false);
        OutboxWriter.create(OutboxTable.of("public", table))
            .append(
                c,
                InvalidationEvent.builder()
                    .tenant("acme")
                    .aggregate("account", "7")
                    .version(2)
                    .build());
        c.commit();
      }
      try (io.lettuce.core.RedisClient client =
              io.lettuce.core.RedisClient.create(TestServers.redisUrl());
          var conn = client.connect()) {
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> "2".equals(conn.sync().get(prefix + ":{acme|account|7}:fence")));
      }
      p.destroy(); // SIGTERM
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("exited after SIGTERM").isTrue();
      String output = Files.readString(log);
      assertThat(output).contains("shutting down").contains("stopped");
      assertThat(p.exitValue()).as(output).isIn(0, 143);
    } finally {
      p.destroyForcibly();
    }
  }
}
