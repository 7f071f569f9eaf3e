package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.embedded.TestServers;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
            + "\nworker:\n  block: 100ms\n");
  }

  @AfterEach
  void tearDown() throws Exception {
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + table + "_schema_history");
    }
  }

  private record Result(int exit, String out, String err) {}

  private static Result cli(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = Main.execute(args);
      return new Result(
          code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void everyCommandHasHelp() {
    for (String cmd : new String[] {"migrate", "run", "status", "demo"}) {
      Result r = cli(cmd, "--help");
      assertThat(r.exit()).as(cmd).isZero();
      assertThat(r.out()).as(cmd).contains("Usage: invalidator " + cmd);
    }
    assertThat(cli("--help").out()).contains("migrate", "run", "status", "demo");
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
    Result r = cli("status", "--config", config.toString(), "--json");
    assertThat(r.exit()).as(r.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertThat(json.get("outbox_pending").asLong()).isEqualTo(1);
    assertThat(json.get("outbox_oldest_age_seconds").asDouble()).isGreaterThanOrEqualTo(0);
    assertThat(json.get("stream").asText()).isEqualTo(prefix + ":stream");
    assertThat(json.get("dlq_depth").asLong()).isZero();

    Result table = cli("status", "--config", config.toString());
    assertThat(table.out()).contains("outbox_pending").contains("CONSUMER");
  }

  @Test
  void wrongConfigurationStopsStartUpNamingTheSetting() throws Exception {
    Files.writeString(config, "relay:\n  batchSize: -3\n", java.nio.file.StandardOpenOption.APPEND);
    Result r = cli("run", "--config", config.toString());
    assertThat(r.exit()).isEqualTo(2);
    assertThat(r.err()).contains("relay.batchSize").contains("INVALIDATOR_RELAY_BATCH_SIZE");
  }

  @Test
  void passwordsNeverReachTheLog() throws Exception {
    Result r =
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
