package dev.invalidator.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code invalidator bench}: every headline figure against a baseline measured in the same run. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmark the write path, relay drain, apply throughput, commit-to-apply latency and the "
          + "cache read path, each against a baseline measured in the same run.",
      "Prints a table, writes JSON and an SVG chart of latency percentiles against offered "
          + "rate. Starts embedded PostgreSQL and Redis when no URLs are given; on given servers it "
          + "works in tables bench_<random>_* and keys bench-<random>-*, and removes them afterwards."
    })
public final class BenchCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--quick",
      description = "Smoke-test sizes: every scenario, under a minute; figures are not meaningful.")
  boolean quick;

  @Option(
      names = {"--db-url", "--postgres-url"},
      paramLabel = "URL",
      description =
          "Outbox database: jdbc:postgresql://127.0.0.1:5432/db?user=postgres, jdbc:mysql://... or"
              + " jdbc:mariadb://... (default: embedded PostgreSQL). MySQL/MariaDB run the"
              + " scenarios relay-drain, apply, fill-path, sustained and scale-out, with the"
              + " polling relay; others are refused.")
  String postgresUrl;

  @Option(
      names = "--kafka-bootstrap",
      paramLabel = "HOST:PORT",
      description =
          "Kafka of the scale-out scenario's kafka transport (default: an in-JVM KRaft broker).")
  String kafkaBootstrap;

  @Option(
      names = "--redis-url",
      paramLabel = "URL",
      description = "redis://host:port (default: embedded).")
  String redisUrl;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      description = "JSON output (default: bench-results/<UTC timestamp>.json).")
  Path out;

  @Option(
      names = "--chart",
      paramLabel = "FILE",
      description = "SVG chart output (default: the JSON path with .svg).")
  Path chart;

  @Option(
      names = "--scenarios",
      split = ",",
      paramLabel = "ID",
      description = "Scenarios to run, comma-separated (default: all): ${COMPLETION-CANDIDATES}.",
      completionCandidates = ScenarioIds.class)
  List<String> scenarios;

  @Option(
      names = "--rates",
      split = ",",
      paramLabel = "N",
      description = "Offered rates of the latency scenario, events/s (full: 500,2000,5000).")
  List<Integer> rates;

  @Option(
      names = "--rate-duration",
      paramLabel = "SECONDS",
      description = "How long each rate is held (full: 60).")
  Integer rateSeconds;

  @Option(
      names = "--backlog",
      paramLabel = "ROWS",
      description = "Outbox rows the relay drains (full: 1000000).")
  Integer backlog;

  @Option(
      names = "--apply-events",
      paramLabel = "N",
      description = "Events of the apply-throughput scenario (full: 200000).")
  Integer applyEvents;

  @Option(
      names = "--clients",
      paramLabel = "N",
      description = "Clients of the write-path, insert and fill-path scenarios (full: 4).")
  Integer clients;

  @Option(
      names = "--writers",
      paramLabel = "N",
      description = "Writer connections of the latency scenario's open-loop schedule (full: 40).")
  Integer writers;

  @Option(
      names = "--sustained-rates",
      split = ",",
      paramLabel = "N",
      description =
          "Offered rates of the sustained-load scenario, events/s (full: 500,1000,2000,4000,8000;"
              + " rates above the measured bare write path are skipped).")
  List<Integer> sustainedRates;

  @Option(
      names = "--sustained-duration",
      paramLabel = "SECONDS",
      description = "How long each sustained rate is measured through the daemon (full: 60).")
  Integer sustainedSeconds;

  @Option(
      names = {"--relays", "--relay"},
      split = ",",
      paramLabel = "MODE",
      description =
          "Relay modes the sustained scenario runs the daemon with, in order: polling, cdc"
              + " (default: polling; polling,cdc compares them in one run).")
  List<String> relays;

  @Option(
      names = "--scale-out-events",
      paramLabel = "N",
      description =
          "Events of each worker count's backlog in the scale-out scenario (full: 200000).")
  Integer scaleOutEvents;

  @Option(
      names = "--scale-out-workers",
      split = ",",
      paramLabel = "N",
      description = "Worker process counts of the scale-out scenario, ascending (full: 1,2,4).")
  List<Integer> scaleOutWorkers;

  @Option(
      names = "--scale-out-transports",
      split = ",",
      paramLabel = "T",
      description = "Transports of the scale-out scenario (full: redis,kafka).")
  List<String> scaleOutTransports;

  /** The scenario ids, for the help text. */
  static final class ScenarioIds implements Iterable<String> {
    @Override
    public java.util.Iterator<String> iterator() {
      return BenchSettings.ALL_SCENARIOS.iterator();
    }
  }

  @Override
  public Integer call() throws Exception {
    BenchSettings settings;
    try {
      settings =
          (quick ? BenchSettings.quick() : BenchSettings.full())
              .with(
                  clients,
                  backlog,
                  applyEvents,
                  rates,
                  rateSeconds == null ? null : Duration.ofSeconds(rateSeconds),
                  writers,
                  scenarios == null ? null : Set.copyOf(new LinkedHashSet<>(scenarios)))
              .withSustained(
                  sustainedRates,
                  sustainedSeconds == null ? null : Duration.ofSeconds(sustainedSeconds))
              .withScaleOut(scaleOutEvents, scaleOutWorkers, scaleOutTransports, relays);
      if (postgresUrl != null) {
        BenchEnvironment.requireJdbcUrl(postgresUrl);
      }
      settings.requireRunnableOn(postgresUrl);
    } catch (IllegalArgumentException ex) {
      spec.commandLine().getErr().println("invalidator bench: " + ex.getMessage());
      return 2;
    }
    List<String> args = spec.commandLine().getParseResult().originalArgs();
    // Under the invalidator CLI the original arguments start with the subcommand's name.
    String command =
        (args.isEmpty() || !args.get(0).equals("bench") ? "invalidator bench " : "invalidator ")
            + String.join(" ", args);
    Bench.run(
        settings,
        postgresUrl,
        redisUrl,
        kafkaBootstrap,
        out,
        chart,
        command
            .trim()
            .replaceAll("//[^@/\\s]*@", "//***@")
            .replaceAll("(?i)(password=)[^&\\s]*", "$1***"),
        System.out);
    return 0;
  }
}
