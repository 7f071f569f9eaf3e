package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.testing.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The smoke test of {@code invalidator bench --quick --db-url jdbc:mariadb://...}: the relay drain
 * and the sustained scenario (the daemon with the polling relay) run on MariaDB, every event
 * reaches Redis, the Debezium peer is reported as absent rather than skipped silently, and the
 * run's tables are gone afterwards. It checks that figures exist, never how fast anything is.
 */
class MariaDbBenchIT {
  @TempDir Path dir;

  @Test
  void quickRelayDrainAndSustainedRunOnMariaDbAndCleanUp() throws Exception {
    String url = TestServers.mysqlUrl();
    assumeTrue(url != null, TestServers::mysqlMissing);
    Path json = dir.resolve("maria.json");
    PrintStream oldOut = System.out;
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
      code =
          Main.execute(
              "bench",
              "--quick",
              "--scenarios",
              "relay-drain,sustained",
              "--db-url",
              url,
              "--redis-url",
              TestServers.redisUrl(),
              "--out",
              json.toString());
    } finally {
      System.setOut(oldOut);
    }
    String out = printed.toString(StandardCharsets.UTF_8);
    assertThat(code).as(out).isZero();
    assertThat(out).contains("peer: none on MySQL/MariaDB", "daemon ready in");

    JsonNode root = new ObjectMapper().readTree(json.toFile());
    assertThat(root.path("machine").path("mysql").path("server_version").asText()).isNotBlank();
    JsonNode drain = root.path("scenarios").get(0);
    assertThat(drain.path("id").asText()).isEqualTo("relay-drain");
    assertThat(drain.path("title").asText()).contains("MySQL/MariaDB");
    assertThat(drain.path("figures")).hasSize(1);
    assertThat(drain.path("figures").get(0).path("value").asDouble()).isPositive();
    assertThat(drain.path("details").path("relayed").asLong())
        .isEqualTo(drain.path("details").path("backlogRows").asLong());
    assertThat(drain.path("details").path("debeziumPeer").asText()).contains("PostgreSQL's WAL");

    JsonNode sustained = root.path("scenarios").get(1);
    assertThat(sustained.path("id").asText()).isEqualTo("sustained");
    assertThat(sustained.path("details").path("database").asText()).isEqualTo("mysql");
    for (JsonNode rate : sustained.path("details").path("rates")) {
      assertThat(rate.path("pipeline").path("count").asLong()).isPositive();
      assertThat(rate.path("entriesLeftAfterDrain").asLong()).isZero();
      assertThat(rate.path("eventsUnappliedAfter30s").asLong()).isZero();
    }

    String runId = root.path("runId").asText();
    try (Connection c = DriverManager.getConnection(url);
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
                    + " AND table_name LIKE ?")) {
      ps.setString(1, "bench\\_" + runId + "%");
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getLong(1)).as("tables of run %s left", runId).isZero();
      }
    }
  }
}
