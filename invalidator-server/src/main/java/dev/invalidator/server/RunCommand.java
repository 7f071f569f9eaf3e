package dev.invalidator.server;

import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.observe.AdminServer;
import dev.invalidator.server.observe.Tracing;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Clock;
import java.time.Duration;
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

  @Option(names = "--migrate", description = "Create or upgrade the outbox table first.")
  boolean migrate;

  @Override
  public Integer call() throws InterruptedException {
    Pipeline.Role r;
    try {
      r = Pipeline.Role.valueOf(role.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new picocli.CommandLine.ParameterException(
          new picocli.CommandLine(this), "--role must be relay, worker or all, got '" + role + "'");
    }
    InvalidatorConfig cfg = connection.load();
    Servers servers = Servers.connect(cfg);
    if (migrate) {
      OutboxSchema.migrate(
          servers.dataSource(), OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table()));
    }
    OpenTelemetry otel = Tracing.fromEnvironment();
    Observability observability = Observability.create(cfg, r, otel, Clock.systemUTC());
    Pipeline pipeline =
        new Pipeline(
            cfg,
            servers,
            r,
            observability.metrics().workerListener(),
            observability.metrics().relayListener(),
            Clock.systemUTC(),
            observability.spans());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log.info("shutting down: finishing batches in flight");
                  pipeline.stop(Duration.ofSeconds(20));
                  pipeline.close();
                  observability.close();
                  Tracing.shutdown(otel);
                  servers.close();
                  log.info("stopped");
                  stopped.countDown();
                },
                "shutdown"));
    pipeline.start();
    AdminServer admin = observability.start(servers, pipeline);
    log.info("status page and metrics on {} (/metrics, /health/ready, /api/status)", admin.uri());
    log.info(
        "invalidator running with role {}; stop with SIGTERM or Ctrl-C",
        r.name().toLowerCase(java.util.Locale.ROOT));
    stopped.await();
    return 0;
  }
}
