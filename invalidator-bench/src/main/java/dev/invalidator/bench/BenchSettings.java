package dev.invalidator.bench;

import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * Sizes and durations of one benchmark run. {@link #full()} is what the README's figures come from;
 * {@link #quick()} is the smoke test (under a minute, figures are not meaningful).
 *
 * @param mode {@code "full"} or {@code "quick"}
 * @param clients concurrent clients of the write-path, insert-rate and fill-path scenarios
 * @param writeDuration how long each write-path variant is measured (split in two halves, run
 *     A-B-A-B so that drift of a shared machine hits both)
 * @param accounts business rows the write-path scenario updates at random
 * @param backlog outbox rows the relay drains
 * @param insertBaselineDuration how long the single-row insert baseline runs
 * @param relayBatchSize rows per relay transaction ({@code relay.batchSize})
 * @param applyEvents events the workers apply in the apply-throughput scenario
 * @param workerThreads worker threads ({@code worker.threads})
 * @param workerBatchSize entries per XREADGROUP ({@code worker.batchSize}), also the UNLINK
 *     pipeline depth of the baseline
 * @param rates offered rates of the latency scenario, events per second
 * @param rateDuration how long each rate is held and measured
 * @param rateWarmup how long each rate runs before measuring starts
 * @param baselineRateDuration how long the latency baseline holds each rate
 * @param latencyWriters writer threads (connections) of the latency scenario's open-loop schedule
 * @param fillDuration how long each fill-path variant is measured (two halves, A-B-A-B)
 * @param sustained the sustained-load scenario's rates and durations
 * @param scenarios which scenarios to run
 * @param scaleOut the scale-out scenario's sizes, worker counts and transports
 * @param relays the relay modes the sustained scenario runs the daemon with, in order
 */
record BenchSettings(
    String mode,
    int clients,
    Duration writeDuration,
    int accounts,
    int backlog,
    Duration insertBaselineDuration,
    int relayBatchSize,
    int applyEvents,
    int workerThreads,
    int workerBatchSize,
    List<Integer> rates,
    Duration rateDuration,
    Duration rateWarmup,
    Duration baselineRateDuration,
    int latencyWriters,
    Duration fillDuration,
    Sustained sustained,
    Set<String> scenarios,
    ScaleOut scaleOut,
    List<String> relays) {

  /** Scenario ids in run order. */
  public static final List<String> ALL_SCENARIOS =
      List.of(
          "write-path", "relay-drain", "apply", "latency", "fill-path", "sustained", "scale-out");

  /** Scenarios that start daemon processes, so need the daemon on the class path. */
  public static final Set<String> DAEMON_SCENARIOS = Set.of("sustained", "scale-out");

  /** Scenarios that run on MySQL/MariaDB too (the others use PostgreSQL-only SQL). */
  public static final List<String> MYSQL_SCENARIOS =
      List.of("relay-drain", "apply", "fill-path", "sustained", "scale-out");

  /** Transports of the scale-out scenario. */
  public static final List<String> TRANSPORTS = List.of("redis", "kafka");

  /** Relay modes of the sustained scenario ({@code relay.mode}). */
  public static final List<String> RELAY_MODES = List.of("polling", "cdc");

  /**
   * Settings of the scale-out scenario: one relay process and a growing number of worker processes
   * per transport, each count measured on its own committed backlog.
   *
   * @param events events of each measured backlog (one per cache entry)
   * @param warmupEvents events applied before each measurement, not measured
   * @param workers worker process counts, ascending (processes are added between counts)
   * @param transports transports, each with its own relay, workers, table and stream or topic
   * @param threadsPerWorker {@code worker.threads} of each worker process
   * @param partitions partitions of the Kafka topic (at least the largest count times the threads)
   */
  public record ScaleOut(
      int events,
      int warmupEvents,
      List<Integer> workers,
      List<String> transports,
      int threadsPerWorker,
      int partitions) {
    public ScaleOut {
      workers = List.copyOf(workers);
      transports = List.copyOf(transports);
      require(
          events >= 1 && events <= 10_000_000,
          "--scale-out-events must be 1..10000000, got " + events);
      require(!workers.isEmpty(), "--scale-out-workers must name at least one count");
      for (int i = 0; i < workers.size(); i++) {
        int w = workers.get(i);
        require(w >= 1 && w <= 16, "--scale-out-workers must be 1..16 each, got " + w);
        require(
            i == 0 || w > workers.get(i - 1),
            "--scale-out-workers must be ascending without repeats, got " + workers);
      }
      require(!transports.isEmpty(), "--scale-out-transports must name at least one transport");
      for (String t : transports) {
        require(
            TRANSPORTS.contains(t),
            "--scale-out-transports: unknown transport '"
                + t
                + "', expected some of "
                + TRANSPORTS);
      }
      require(
          transports.size() == Set.copyOf(transports).size(),
          "--scale-out-transports names a transport twice: " + transports);
    }

    int maxWorkers() {
      return workers.get(workers.size() - 1);
    }
  }

  /**
   * Settings of the sustained-load scenario (through a daemon process).
   *
   * @param rates offered rates, events per second, ascending; those above the measured bare write
   *     capacity are skipped
   * @param duration how long each rate is measured through the daemon
   * @param warmup how long each rate runs before measuring (reported separately)
   * @param baselineDuration how long the naive baseline holds each rate
   * @param writers writer connections
   * @param capacityDuration how long the bare write capacity is measured
   */
  public record Sustained(
      List<Integer> rates,
      Duration duration,
      Duration warmup,
      Duration baselineDuration,
      int writers,
      Duration capacityDuration) {
    public Sustained {
      rates = List.copyOf(rates);
      require(!rates.isEmpty(), "--sustained-rates must name at least one rate");
      for (int r : rates) {
        require(r >= 1 && r <= 100_000, "--sustained-rates must be 1..100000 each, got " + r);
      }
      require(positive(duration), "--sustained-duration must be positive, got " + duration);
      require(writers >= 1 && writers <= 64, "sustained writers must be 1..64, got " + writers);
    }
  }

  public BenchSettings {
    rates = List.copyOf(rates);
    scenarios = Set.copyOf(scenarios);
    require(clients >= 1 && clients <= 64, "--clients must be 1..64, got " + clients);
    require(backlog >= 1, "--backlog must be >= 1, got " + backlog);
    require(applyEvents >= 1, "--apply-events must be >= 1, got " + applyEvents);
    require(!rates.isEmpty(), "--rates must name at least one rate");
    for (int r : rates) {
      require(r >= 1 && r <= 100_000, "--rates must be 1..100000 events/s each, got " + r);
    }
    require(positive(rateDuration), "--rate-duration must be positive, got " + rateDuration);
    require(latencyWriters >= 1 && latencyWriters <= 64, "--writers must be 1..64");
    for (String s : scenarios) {
      require(
          ALL_SCENARIOS.contains(s),
          "--scenarios: unknown scenario '" + s + "', expected some of " + ALL_SCENARIOS);
    }
    require(!scenarios.isEmpty(), "--scenarios must name at least one scenario");
    relays = List.copyOf(relays);
    require(!relays.isEmpty(), "--relays must name at least one relay mode");
    for (String r : relays) {
      require(
          RELAY_MODES.contains(r),
          "--relays: unknown relay mode '" + r + "', expected some of " + RELAY_MODES);
    }
    require(
        relays.size() == Set.copyOf(relays).size(), "--relays names a relay mode twice: " + relays);
  }

  /** The full run behind the README's figures. */
  public static BenchSettings full() {
    return new BenchSettings(
        "full",
        4,
        Duration.ofSeconds(20),
        10_000,
        1_000_000,
        Duration.ofSeconds(15),
        500,
        200_000,
        2,
        256,
        List.of(500, 2_000, 5_000),
        Duration.ofSeconds(60),
        Duration.ofSeconds(5),
        Duration.ofSeconds(20),
        40,
        Duration.ofSeconds(20),
        new Sustained(
            List.of(500, 1_000, 2_000, 4_000, 8_000),
            Duration.ofSeconds(60),
            Duration.ofSeconds(5),
            Duration.ofSeconds(20),
            8,
            Duration.ofSeconds(10)),
        Set.copyOf(ALL_SCENARIOS),
        new ScaleOut(200_000, 20_000, List.of(1, 2, 4), TRANSPORTS, 2, 8),
        List.of("polling"));
  }

  /** The smoke test: every scenario, tiny sizes, finishes in well under a minute. */
  public static BenchSettings quick() {
    return new BenchSettings(
        "quick",
        2,
        Duration.ofSeconds(2),
        1_000,
        5_000,
        Duration.ofSeconds(1),
        500,
        5_000,
        2,
        256,
        List.of(200, 1_000),
        Duration.ofSeconds(2),
        Duration.ofMillis(500),
        Duration.ofSeconds(1),
        8,
        Duration.ofSeconds(2),
        new Sustained(
            List.of(200),
            Duration.ofSeconds(3),
            Duration.ofSeconds(1),
            Duration.ofSeconds(2),
            4,
            Duration.ofSeconds(1)),
        Set.copyOf(ALL_SCENARIOS),
        new ScaleOut(2_000, 200, List.of(1, 2), TRANSPORTS, 2, 8),
        List.of("polling"));
  }

  /** A copy with other rates, durations, sizes or scenarios (null keeps the current value). */
  BenchSettings with(
      Integer clients,
      Integer backlog,
      Integer applyEvents,
      List<Integer> rates,
      Duration rateDuration,
      Integer latencyWriters,
      Set<String> scenarios) {
    return new BenchSettings(
        mode,
        clients == null ? this.clients : clients,
        writeDuration,
        accounts,
        backlog == null ? this.backlog : backlog,
        insertBaselineDuration,
        relayBatchSize,
        applyEvents == null ? this.applyEvents : applyEvents,
        workerThreads,
        workerBatchSize,
        rates == null ? this.rates : rates,
        rateDuration == null ? this.rateDuration : rateDuration,
        rateWarmup,
        baselineRateDuration,
        latencyWriters == null ? this.latencyWriters : latencyWriters,
        fillDuration,
        sustained,
        scenarios == null ? this.scenarios : scenarios,
        scaleOut,
        relays);
  }

  /** A copy with other sustained-load rates or duration (null keeps the current value). */
  BenchSettings withSustained(List<Integer> rates, Duration duration) {
    Sustained s =
        new Sustained(
            rates == null ? sustained.rates() : rates,
            duration == null ? sustained.duration() : duration,
            sustained.warmup(),
            sustained.baselineDuration(),
            sustained.writers(),
            sustained.capacityDuration());
    return new BenchSettings(
        mode,
        clients,
        writeDuration,
        accounts,
        backlog,
        insertBaselineDuration,
        relayBatchSize,
        applyEvents,
        workerThreads,
        workerBatchSize,
        this.rates,
        rateDuration,
        rateWarmup,
        baselineRateDuration,
        latencyWriters,
        fillDuration,
        s,
        scenarios,
        scaleOut,
        relays);
  }

  /**
   * A copy with other scale-out sizes, worker counts or transports, or other relay modes of the
   * sustained scenario (null keeps the current value).
   */
  BenchSettings withScaleOut(
      Integer events, List<Integer> workers, List<String> transports, List<String> relays) {
    ScaleOut o =
        new ScaleOut(
            events == null ? scaleOut.events() : events,
            events == null ? scaleOut.warmupEvents() : Math.max(1, events / 10),
            workers == null ? scaleOut.workers() : workers,
            transports == null ? scaleOut.transports() : transports,
            scaleOut.threadsPerWorker(),
            scaleOut.partitions());
    return new BenchSettings(
        mode,
        clients,
        writeDuration,
        accounts,
        backlog,
        insertBaselineDuration,
        relayBatchSize,
        applyEvents,
        workerThreads,
        workerBatchSize,
        rates,
        rateDuration,
        rateWarmup,
        baselineRateDuration,
        latencyWriters,
        fillDuration,
        sustained,
        scenarios,
        o,
        relays == null ? this.relays : relays);
  }

  /**
   * Refuses what cannot run on the outbox database of {@code jdbcUrl} (null: embedded PostgreSQL),
   * naming it: never a silent skip.
   */
  void requireRunnableOn(String jdbcUrl) {
    boolean mysql =
        jdbcUrl != null
            && (jdbcUrl.startsWith("jdbc:mysql:") || jdbcUrl.startsWith("jdbc:mariadb:"));
    if (!mysql) {
      return;
    }
    List<String> refused =
        ALL_SCENARIOS.stream()
            .filter(scenarios::contains)
            .filter(id -> !MYSQL_SCENARIOS.contains(id))
            .toList();
    require(
        refused.isEmpty(),
        "scenario(s) "
            + refused
            + " run on PostgreSQL only (their business table is built with PostgreSQL SQL); with a"
            + " MySQL/MariaDB --db-url choose some of --scenarios "
            + String.join(",", MYSQL_SCENARIOS));
    require(
        !(scenarios.contains("sustained") && relays.contains("cdc")),
        "--relays cdc: the CDC relay reads PostgreSQL's WAL and cannot run with a MySQL/MariaDB"
            + " --db-url; use --relays polling");
  }

  boolean runs(String scenario) {
    return scenarios.contains(scenario);
  }

  boolean quickMode() {
    return mode.equals("quick");
  }

  private static boolean positive(Duration d) {
    return d != null && !d.isNegative() && !d.isZero();
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
