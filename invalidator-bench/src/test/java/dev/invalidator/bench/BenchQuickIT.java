package dev.invalidator.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The smoke test of {@code invalidator bench --quick}: every scenario runs and produces figures
 * with baselines, the JSON and the chart are written, and nothing is left behind on the servers. It
 * checks that figures exist, never how fast anything is.
 */
class BenchQuickIT {
  @TempDir Path dir;

  @Test
  void quickRunProducesEveryScenarioWithBaselinesJsonAndChartAndCleansUp() throws Exception {
    Path json = dir.resolve("out/bench.json");
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    // Every scenario but those that start daemons and need them on the class path:
    // SustainedBenchIT and ScaleOutBenchIT in invalidator-cli run them.
    List<String> inProcess =
        BenchSettings.ALL_SCENARIOS.stream()
            .filter(id -> !BenchSettings.DAEMON_SCENARIOS.contains(id))
            .toList();
    BenchSettings settings =
        BenchSettings.quick().with(null, null, null, null, null, null, Set.copyOf(inProcess));
    Bench.Outcome outcome =
        Bench.run(
            settings,
            TestServers.postgresUrl(),
            TestServers.redisUrl(),
            json,
            null,
            "test",
            new PrintStream(printed, true, StandardCharsets.UTF_8));

    assertThat(outcome.results())
        .extracting(ScenarioResult::id)
        .containsExactlyElementsOf(inProcess);
    for (ScenarioResult r : outcome.results()) {
      assertThat(r.figures()).as(r.id()).isNotEmpty();
      for (Figure f : r.figures()) {
        assertThat(f.value()).as(r.id() + " " + f.name()).isPositive();
        assertThat(f.baseline()).as(r.id() + " baseline " + f.name()).isPositive();
        assertThat(f.ratio()).as(r.id() + " ratio " + f.name()).isPositive().isFinite();
      }
    }
    // Every event of the latency and apply scenarios reached Redis and removed its entry.
    ScenarioResult apply = result(outcome, "apply");
    assertThat(apply.details().get("entriesLeftAfterWorkers")).isEqualTo(0L);
    assertThat(apply.details().get("failed")).isEqualTo(0L);

    JsonNode root = new ObjectMapper().readTree(json.toFile());
    assertThat(root.path("machine").path("cores").asInt()).isPositive();
    assertThat(root.path("machine").path("postgres").path("server_version").asText()).isNotBlank();
    assertThat(root.path("machine").path("redis").path("redis_version").asText()).isNotBlank();
    assertThat(root.path("scenarios")).hasSize(5);
    assertThat(root.path("externalFigures")).hasSize(3);
    JsonNode curve = root.path("latencyCurve").path("pipeline");
    assertThat(curve).hasSize(BenchSettings.quick().rates().size());
    for (JsonNode point : curve) {
      assertThat(point.path("count").asLong()).isPositive();
      assertThat(point.path("p99").asDouble()).isPositive();
    }
    for (JsonNode rate : root.path("scenarios").get(3).path("details").path("rates")) {
      assertThat(rate.path("entriesLeftAfterDrain").asLong()).isZero();
      assertThat(rate.path("eventsUnappliedAfter30s").asLong()).isZero();
    }

    assertThat(outcome.chart()).isEqualTo(dir.resolve("out/bench.svg"));
    String svg = Files.readString(outcome.chart());
    assertThat(svg).startsWith("<svg").contains("<polyline").contains("external:");

    String out = printed.toString(StandardCharsets.UTF_8);
    assertThat(out).contains("| scenario | figure | Invalidator | baseline | ratio |");
    assertThat(out).contains("NOT same-run baselines");

    String runId = root.path("runId").asText();
    assertThat(tablesOf(runId)).isEmpty();
    assertThat(keysOf(runId)).isEmpty();
  }

  @Test
  void helpListsTheOptionsAndBadOptionsAreRefusedNamingThem() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CommandLine cl = new CommandLine(new BenchCommand());
    cl.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
    cl.setOut(new java.io.PrintWriter(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertThat(cl.execute("--help")).isZero();
    assertThat(cl.execute("--quick", "--rates", "0")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("--rates must be 1..100000");
    assertThat(cl.execute("--quick", "--scenarios", "nope")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown scenario 'nope'");
    assertThat(cl.execute("--quick", "--scale-out-workers", "2,1")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--scale-out-workers must be ascending");
    assertThat(cl.execute("--quick", "--scale-out-transports", "rabbitmq")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown transport 'rabbitmq'");
    assertThat(cl.execute("--quick", "--relays", "polling,wal")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown relay mode 'wal'");
  }

  @Test
  void scenariosThatCannotRunOnMariaDbAreRefusedNamingThemNeverSkipped() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CommandLine cl = new CommandLine(new BenchCommand());
    cl.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
    String url = "jdbc:mariadb://127.0.0.1:1/test?user=root&password=secret";
    // Every scenario by default: two of them are PostgreSQL-only.
    assertThat(cl.execute("--quick", "--db-url", url)).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("[write-path, latency] run on PostgreSQL only")
        .contains("relay-drain,apply,fill-path,sustained,scale-out");
    assertThat(cl.execute("--quick", "--db-url", url, "--scenarios", "latency")).isEqualTo(2);
    assertThat(
            cl.execute(
                "--quick", "--db-url", url, "--scenarios", "sustained", "--relays", "polling,cdc"))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--relays cdc: the CDC relay reads PostgreSQL's WAL")
        .doesNotContain("secret");
    assertThat(cl.execute("--quick", "--db-url", "mysql://u:secret@h/db")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("--db-url must be a JDBC URL")
        .doesNotContain("secret");
  }

  @Test
  void postgresUrlThatIsNotJdbcIsRefusedWithoutStartingAnything() {
    assertThatThrownBy(
            () ->
                BenchEnvironment.open(
                    "postgresql://u:secret@host/db", "redis://127.0.0.1:1", 1, System.out))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--db-url must be a JDBC URL")
        .hasMessageNotContaining("secret");
  }

  private static ScenarioResult result(Bench.Outcome outcome, String id) {
    return outcome.results().stream().filter(r -> r.id().equals(id)).findFirst().orElseThrow();
  }

  private static List<String> tablesOf(String runId) throws Exception {
    List<String> out = new ArrayList<>();
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT table_name FROM information_schema.tables WHERE table_name LIKE ?")) {
      ps.setString(1, "bench\\_" + runId + "%");
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }

  private static List<String> keysOf(String runId) {
    RedisClient client = RedisClient.create(TestServers.redisUrl());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      List<String> keys = new ArrayList<>();
      io.lettuce.core.KeyScanCursor<String> cursor =
          c.sync().scan(ScanArgs.Builder.matches("bench-" + runId + "-*").limit(1000));
      keys.addAll(cursor.getKeys());
      while (!cursor.isFinished()) {
        cursor =
            c.sync()
                .scan(
                    io.lettuce.core.ScanCursor.of(cursor.getCursor()),
                    ScanArgs.Builder.matches("bench-" + runId + "-*").limit(1000));
        keys.addAll(cursor.getKeys());
      }
      return keys;
    } finally {
      client.shutdown();
    }
  }
}
