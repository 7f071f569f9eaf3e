package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.testing.ConsoleCapture;
import dev.invalidator.testing.TestServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands on a MariaDB/MySQL outbox, named by {@code --db-url} alone: migrate, status, replay
 * and migrate --drop ({@code INVALIDATOR_TEST_MYSQL_URL} or embedded MariaDB).
 */
class MySqlCommandLineTest {
  @TempDir Path dir;
  private Path config;
  private String url;
  private String table;

  @BeforeAll
  static void requireMySql() {
    String url = TestServers.mysqlUrl();
    if (url == null) {
      System.err.println("SKIPPED MySqlCommandLineTest: " + TestServers.mysqlMissing());
    }
    Assumptions.assumeTrue(url != null, () -> "no MySQL/MariaDB: " + TestServers.mysqlMissing());
  }

  @BeforeEach
  void setUp() throws Exception {
    url = TestServers.mysqlUrl();
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    table = "outbox_m" + id;
    // Table and key prefix from a file; the database only from --db-url.
    config = dir.resolve("invalidator.yaml");
    Files.writeString(config, "postgres:\n  table: " + table + "\nredis:\n  prefix: m" + id + "\n");
  }

  @AfterEach
  void tearDown() throws Exception {
    try (Connection c = DriverManager.getConnection(url);
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table);
      s.execute("DROP TABLE IF EXISTS " + table + "_schema_history");
    }
  }

  private ConsoleCapture.Result cli(String command, String... more) {
    String[] args = new String[more.length + 7];
    args[0] = command;
    args[1] = "--db-url";
    args[2] = url;
    args[3] = "--redis-url";
    args[4] = TestServers.redisUrl();
    args[5] = "--config";
    args[6] = config.toString();
    System.arraycopy(more, 0, args, 7, more.length);
    return ConsoleCapture.run(Main::execute, args);
  }

  @Test
  void migrateStatusReplayAndDropWorkOnMariaDbByUrlAlone() throws Exception {
    ConsoleCapture.Result migrated = cli("migrate");
    assertThat(migrated.exit()).as(migrated.err()).isZero();
    assertThat(migrated.out()).contains("`" + table + "`").contains("1 outbox");

    try (Connection c = DriverManager.getConnection(url)) {
      c.setAutoCommit(false);
      OutboxWriter.create(OutboxTable.of("public", table))
          .append(
              c,
              InvalidationEvent.builder()
                  .tenant("acme")
                  .aggregate("account", "1")
                  .version(3)
                  .build());
      c.commit();
      try (Statement s = c.createStatement()) {
        // One more row, relayed ten minutes ago: what replay re-publishes.
        s.execute(
            "INSERT INTO "
                + table
                + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,"
                + " event_type, relayed_at) VALUES (UUID(), 'acme', 'account', '2', 1, 'changed',"
                + " UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE)");
      }
      c.commit();
    }

    ConsoleCapture.Result status = cli("status", "--json");
    assertThat(status.exit()).as(status.err()).isZero();
    JsonNode json = new ObjectMapper().readTree(status.out());
    assertThat(json.get("outbox_pending").asLong()).isEqualTo(1);
    assertThat(json.get("outbox_oldest_age_seconds").asDouble()).isBetween(0.0, 60.0);

    ConsoleCapture.Result replay = cli("replay", "--since", "1h", "--dry-run");
    assertThat(replay.exit()).as(replay.err()).isZero();
    assertThat(replay.out() + replay.err()).contains("would re-publish 1 row(s)");

    ConsoleCapture.Result dropped = cli("migrate", "--drop", "--force");
    assertThat(dropped.exit()).as(dropped.err()).isZero();
    try (Connection c = DriverManager.getConnection(url);
        Statement s = c.createStatement();
        var rs =
            s.executeQuery(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
                    + " AND table_name LIKE '"
                    + table
                    + "%'")) {
      rs.next();
      assertThat(rs.getLong(1)).isZero();
    }
  }
}
