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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The smoke test of {@code invalidator bench --quick --scenarios sustained}: the daemon starts as
 * its own process, the writers' events reach Redis through it (every entry gone, nothing
 * unapplied), the figures and the backlog series are reported, and the daemon stops. It checks that
 * figures exist, never how fast anything is.
 */
class SustainedBenchIT {
  @TempDir Path dir;

  @Test
  void quickSustainedRunGoesThroughADaemonProcessAndReportsEveryRate() throws Exception {
    Path json = dir.resolve("sustained.json");
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
              "--postgres-url",
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
    assertThat(out)
        .contains("daemon ready in", "bare write path", "Freshness under sustained load");

    JsonNode scenario = new ObjectMapper().readTree(json.toFile()).path("scenarios").get(0);
    assertThat(scenario.path("id").asText()).isEqualTo("sustained");
    assertThat(scenario.path("details").path("bareWriteCapacityTxPerSecond").asLong()).isPositive();
    JsonNode rates = scenario.path("details").path("rates");
    assertThat(rates).hasSize(1);
    for (JsonNode rate : rates) {
      assertThat(rate.path("pipeline").path("count").asLong()).isPositive();
      assertThat(rate.path("baseline").path("count").asLong()).isPositive();
      assertThat(rate.path("entriesLeftAfterDrain").asLong()).isZero();
      assertThat(rate.path("eventsUnappliedAfter30s").asLong()).isZero();
      assertThat(rate.path("backlogSamples")).isNotEmpty();
    }
    // The daemon ran as its own process and logged its start and its stop.
    String daemonLog =
        Files.readString(dir.resolve("sustained.daemon.log"), StandardCharsets.UTF_8);
    assertThat(daemonLog).contains("invalidator running", "stopped");
  }
}
