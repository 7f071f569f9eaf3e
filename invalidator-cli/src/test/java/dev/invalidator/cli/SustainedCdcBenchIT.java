package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.testing.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The smoke test of {@code invalidator bench --quick --scenarios sustained --relays cdc}: the
 * daemon runs with {@code relay.mode: cdc}, the writers' events reach Redis through Debezium (every
 * entry gone, nothing unapplied), and the run's replication slot is dropped afterwards. It checks
 * that figures exist, never how fast anything is.
 */
class SustainedCdcBenchIT {
  @TempDir Path dir;

  @Test
  void quickSustainedRunWithTheCdcRelayAppliesEveryEventAndDropsItsSlot() throws Exception {
    Path json = dir.resolve("cdc.json");
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
              "sustained",
              "--relays",
              "cdc",
              "--db-url",
              TestServers.postgresUrl(),
              "--redis-url",
              TestServers.redisUrl(),
              "--out",
              json.toString());
    } finally {
      System.setOut(oldOut);
    }
    String out = printed.toString(StandardCharsets.UTF_8);
    assertThat(code).as(out).isZero();
    assertThat(out).contains("cdc relay");

    JsonNode root = new ObjectMapper().readTree(json.toFile());
    JsonNode scenario = root.path("scenarios").get(0);
    assertThat(scenario.path("details").path("relayMode").asText()).isEqualTo("cdc");
    for (JsonNode rate : scenario.path("details").path("rates")) {
      assertThat(rate.path("pipeline").path("count").asLong()).isPositive();
      assertThat(rate.path("entriesLeftAfterDrain").asLong()).isZero();
      assertThat(rate.path("eventsUnappliedAfter30s").asLong()).isZero();
    }
    assertThat(Files.readString(dir.resolve("cdc.daemon-cdc.log"), StandardCharsets.UTF_8))
        .contains("CDC relay for", "stopped");
    String runId = root.path("runId").asText();
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE ?")) {
      ps.setString(1, "bench\\_" + runId + "%");
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        assertThat(rs.getLong(1)).as("replication slots of run %s left", runId).isZero();
      }
    }
  }
}
