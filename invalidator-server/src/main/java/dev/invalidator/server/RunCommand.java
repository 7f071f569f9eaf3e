package dev.invalidator.server;

import dev.invalidator.core.WorkerListener;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.InvalidatorConfig;
import java.net.URI;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code invalidator run}: the daemon (relay, workers or both) until SIGTERM. */
@Command(
    name = "run",
    mixinStandardHelpOptions = true,
    description = {
      "Run the relay and/or the workers until SIGTERM or Ctrl-C.",
      "Shutdown finishes the batches in flight: nothing is acknowledged that was not applied."
    })
final class RunCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

  @Mixin ConnectionOptions connection;

  @Option(
      names = "--role",
      defaultValue = "all",
      description = "relay, worker or all (default: ${DEFAULT-VALUE}).")
  String role;

  @Option(
      names = "--relay",
      paramLabel = "polling|cdc",
      description =
          "How the relay reads the outbox: polling (claims unrelayed rows) or cdc (reads its"
              + " inserts from PostgreSQL's WAL with Debezium; needs wal_level=logical)"
              + " (overrides relay.mode).")
  String relay;

  @Option(names = "--migrate", description = "Create or upgrade the outbox table first.")
  boolean migrate;

  @Override
  public Integer call() throws InterruptedException {
    Daemon.Role r;
    try {
      r = Daemon.Role.valueOf(role.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--role must be relay, worker or all, got '" + role + "'");
    }
    InvalidatorConfig cfg = load();
    Daemon daemon = Daemon.create(cfg, r, WorkerListener.NONE, migrate);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log.info("shutting down: finishing batches in flight");
                  daemon.close();
                  log.info("stopped");
                  stopped.countDown();
                },
                "shutdown"));
    URI admin = daemon.start(false);
    log.info("status page and metrics on {} (/metrics, /health/ready, /api/status)", admin);
    log.info(
        "invalidator running with role {}; stop with SIGTERM or Ctrl-C",
        r.name().toLowerCase(java.util.Locale.ROOT));
    stopped.await();
    return 0;
  }

  /**
   * The configuration, with {@code --relay} over {@code relay.mode}; a wrong {@code --relay} is
   * refused naming the option, and so is {@code --relay cdc} on MySQL/MariaDB (the setting's check
   * would name {@code relay.mode}, which the user did not write).
   */
  private InvalidatorConfig load() {
    if (relay == null) {
      return connection.load();
    }
    String mode = relay.toLowerCase(java.util.Locale.ROOT);
    if (!mode.equals("polling") && !mode.equals("cdc")) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--relay must be polling or cdc, got '" + relay + "'");
    }
    if (mode.equals("cdc")) {
      InvalidatorConfig polling = connection.load(java.util.Map.of("relay.mode", "polling"));
      if (polling.postgres().configured()
          && polling.postgres().dialect() != dev.invalidator.outbox.OutboxDialect.POSTGRESQL) {
        throw new ConfigException(
            "--relay",
            "cdc reads PostgreSQL's WAL; the outbox database is "
                + polling.postgres().dialect()
                + ", use --relay polling");
      }
    }
    return connection.load(java.util.Map.of("relay.mode", mode));
  }
}
