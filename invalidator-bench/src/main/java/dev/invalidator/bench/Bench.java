package dev.invalidator.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Runs the scenarios in order against one {@link BenchEnvironment} and writes the report. Every
 * scenario measures its own baseline right next to its figure, so a noisy machine moves both.
 */
final class Bench {
  /** What a run produced. */
  public record Outcome(
      Path json, Path chart, List<ScenarioResult> results, Map<String, Object> report) {}

  private Bench() {}

  /**
   * Runs the benchmark.
   *
   * @param postgresUrl JDBC URL, or null for embedded PostgreSQL
   * @param redisUrl Redis URL, or null for embedded Redis
   * @param json where to write the JSON, or null for {@code bench-results/<timestamp>.json}
   * @param chart where to write the SVG chart, or null for the JSON path with {@code .svg}
   * @param command the command line, recorded in the report
   */
  public static Outcome run(
      BenchSettings settings,
      String postgresUrl,
      String redisUrl,
      Path json,
      Path chart,
      String command,
      PrintStream out)
      throws Exception {
    return run(settings, postgresUrl, redisUrl, null, json, chart, command, out);
  }

  /**
   * Runs the benchmark.
   *
   * @param postgresUrl JDBC URL of PostgreSQL, MySQL or MariaDB, or null for embedded PostgreSQL
   * @param redisUrl Redis URL, or null for embedded Redis
   * @param kafkaBootstrap Kafka bootstrap servers of the scale-out scenario, or null for an in-JVM
   *     broker
   * @param json where to write the JSON, or null for {@code bench-results/<timestamp>.json}
   * @param chart where to write the SVG chart, or null for the JSON path with {@code .svg}
   * @param command the command line, recorded in the report
   */
  public static Outcome run(
      BenchSettings settings,
      String postgresUrl,
      String redisUrl,
      String kafkaBootstrap,
      Path json,
      Path chart,
      String command,
      PrintStream out)
      throws Exception {
    settings.requireRunnableOn(postgresUrl);
    Instant started = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    if (json == null) {
      String stamp =
          DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(started);
      json = Path.of("bench-results", stamp + ".json");
    }
    if (chart == null) {
      String name = json.getFileName().toString();
      int dot = name.lastIndexOf('.');
      chart = json.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + ".svg");
    }
    List<ScenarioResult> results = new ArrayList<>();
    List<CommitToApplyScenario.Curves> curves = new ArrayList<>();
    List<CommitToApplyScenario.Curves> sustainedCurves = new ArrayList<>();
    Path daemonLog = siblingWithSuffix(json, ".daemon.log");
    Map<String, Object> header = new LinkedHashMap<>();
    Thread runner = Thread.currentThread();
    CountDownLatch closedByRunner = new CountDownLatch(1);
    try (BenchEnvironment env = BenchEnvironment.open(postgresUrl, redisUrl, 4, out)) {
      // Ctrl-C or SIGTERM still stops the daemons started, then drops the run's tables and keys.
      // A shutdown hook does not stop this thread, which may be writing a backlog's rows and
      // cache entries: it is interrupted and the hook waits (at most 10 s) until it has left
      // the environment, closing it, so nothing is written after the keys were deleted.
      Runnable closeEnv = env::close;
      Thread cleanup =
          new Thread(
              () -> {
                DaemonProcesses.stopAll();
                runner.interrupt();
                try {
                  closedByRunner.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException ex) {
                  Thread.currentThread().interrupt();
                }
                closeEnv.run();
              },
              "bench-cleanup");
      Runtime.getRuntime().addShutdownHook(cleanup);
      try {
        runScenarios(
            env,
            settings,
            command,
            started,
            header,
            results,
            curves,
            sustainedCurves,
            daemonLog,
            kafkaBootstrap,
            out);
      } finally {
        DaemonProcesses.stopAll();
        try {
          Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException ex) {
          // already shutting down: the hook does the cleanup
        }
      }
    } finally {
      closedByRunner.countDown();
    }
    Map<String, Object> report = Report.json(header, settings, results, curves);
    Report.writeJson(json, report);
    Path writtenChart = null;
    if (!curves.isEmpty()) {
      writeChart(
          chart,
          curves.get(0),
          header,
          "commit-to-apply latency vs offered rate",
          "coordinated-omission corrected; entry gone from Redis");
      writtenChart = chart;
    }
    if (!sustainedCurves.isEmpty() && !sustainedCurves.get(0).pipeline().isEmpty()) {
      Path sustainedChart = siblingWithSuffix(chart, "-sustained.svg");
      writeChart(
          sustainedChart,
          sustainedCurves.get(0),
          header,
          "commit-to-evict latency through invalidator run vs offered rate",
          "from commit return to Redis's deletion notification; daemon in its own process");
      out.printf("bench: wrote %s%n", sustainedChart);
    }
    Report.printTable(out, header, results, curves);
    out.printf("%nbench: wrote %s%s%n", json, writtenChart == null ? "" : " and " + writtenChart);
    return new Outcome(json, writtenChart, results, report);
  }

  private static void runScenarios(
      BenchEnvironment env,
      BenchSettings settings,
      String command,
      Instant started,
      Map<String, Object> header,
      List<ScenarioResult> results,
      List<CommitToApplyScenario.Curves> curves,
      List<CommitToApplyScenario.Curves> sustainedCurves,
      Path daemonLog,
      String kafkaBootstrap,
      PrintStream out)
      throws Exception {
    header.put("tool", "invalidator bench");
    header.put("mode", settings.mode());
    header.put("startedAt", started.toString());
    header.put("runId", env.runId());
    header.put("command", command);
    header.put("machine", MachineInfo.collect(env));
    out.printf(
        "bench: %s run %s on %s cores, load average %.2f%n",
        settings.mode(),
        env.runId(),
        Runtime.getRuntime().availableProcessors(),
        MachineInfo.loadAverage());
    long t0 = System.nanoTime();
    for (String id : BenchSettings.ALL_SCENARIOS) {
      if (!settings.runs(id)) {
        continue;
      }
      if (id.equals("sustained")) {
        // One run per relay mode (--relays), polling first: the chart draws the first.
        for (String relay : settings.relays()) {
          out.printf("bench: scenario %s, %s relay...%n", id, relay);
          long s0 = System.nanoTime();
          Path log =
              relay.equals("polling")
                  ? daemonLog
                  : siblingWithSuffix(daemonLog, "-" + relay + ".log");
          ScenarioResult r = SustainedScenario.run(env, settings, out, log, sustainedCurves, relay);
          finish(r, id, s0, results, out);
        }
        continue;
      }
      out.printf("bench: scenario %s...%n", id);
      long s0 = System.nanoTime();
      ScenarioResult r =
          switch (id) {
            case "write-path" -> WritePathScenario.run(env, settings, out);
            case "relay-drain" -> RelayDrainScenario.run(env, settings, out);
            case "apply" -> ApplyScenario.run(env, settings, out);
            case "latency" -> CommitToApplyScenario.run(env, settings, out, curves);
            case "fill-path" -> FillPathScenario.run(env, settings, out);
            case "scale-out" -> ScaleOutScenario.run(env, settings, out, daemonLog, kafkaBootstrap);
            default -> throw new IllegalStateException("unknown scenario " + id);
          };
      finish(r, id, s0, results, out);
    }
    header.put("finishedAt", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    header.put("totalSeconds", Math.round((System.nanoTime() - t0) / 1e8) / 10.0);
    header.put("loadAverageAtEnd", MachineInfo.loadAverage());
  }

  private static void finish(
      ScenarioResult r, String id, long s0, List<ScenarioResult> results, PrintStream out) {
    r.details().put("scenarioSeconds", Math.round((System.nanoTime() - s0) / 1e8) / 10.0);
    r.details().put("loadAverageAtEnd", MachineInfo.loadAverage());
    results.add(r);
    out.printf(
        "bench: scenario %s done in %.0f s (load average %.2f)%n",
        id, (System.nanoTime() - s0) / 1e9, MachineInfo.loadAverage());
  }

  /** {@code path} with its extension replaced by {@code suffix}. */
  private static Path siblingWithSuffix(Path path, String suffix) {
    String name = path.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return path.resolveSibling((dot > 0 ? name.substring(0, dot) : name) + suffix);
  }

  private static void writeChart(
      Path chart,
      CommitToApplyScenario.Curves curves,
      Map<String, Object> header,
      String title,
      String note)
      throws IOException {
    @SuppressWarnings("unchecked")
    Map<String, Object> machine = (Map<String, Object>) header.get("machine");
    String subtitle =
        String.format(
            "%s run %s, %s cores, %s; %s",
            header.get("mode"),
            header.get("startedAt"),
            machine.get("cores"),
            machine.get("cpu"),
            note);
    String svg =
        LatencyChart.svg(curves.pipeline(), curves.baseline(), "Invalidator " + title, subtitle);
    Path parent = chart.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(chart, svg, StandardCharsets.UTF_8);
  }
}
