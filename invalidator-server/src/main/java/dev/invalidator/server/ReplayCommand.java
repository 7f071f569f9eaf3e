package dev.invalidator.server;

import dev.invalidator.outbox.OutboxReplay;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisStreamPublisher;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.Durations;
import dev.invalidator.server.config.InvalidatorConfig;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code invalidator replay}: re-publish relayed outbox rows still inside the retention window. */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    description = {
      "Re-publish outbox rows relayed in [--since, --until) to the stream: the repair after "
          + "Redis lost acknowledged entries.",
      "Duplicates are harmless; rows past relay.retention are gone."
    })
final class ReplayCommand implements Callable<Integer> {
  @Mixin ConnectionOptions connection;
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--since",
      required = true,
      paramLabel = "TIME",
      description =
          "ISO-8601 instant (2026-01-02T03:04:05Z) or an age such as 30m, 2h or a bare number of seconds.")
  String since;

  @Option(names = "--until", paramLabel = "TIME", description = "End, exclusive (default: now).")
  String until;

  @Option(names = "--tenant", description = "Only rows of this tenant.")
  String tenant;

  @Option(
      names = "--batch-size",
      defaultValue = "500",
      description = "Rows per batch (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--dry-run", description = "Only count the rows that would be re-published.")
  boolean dryRun;

  static Instant time(String option, String text, Instant now) {
    try {
      return Instant.parse(text);
    } catch (DateTimeParseException ex) {
      try {
        return now.minus(Durations.parse(option, text));
      } catch (ConfigException ce) {
        throw new ConfigException(
            option, "'" + text + "' is neither an ISO-8601 instant nor an age such as 30m");
      }
    }
  }

  @Override
  public Integer call() {
    Instant now = Instant.now();
    Instant from = time("--since", since, now);
    Instant to = until == null ? now : time("--until", until, now);
    if (!from.isBefore(to)) {
      throw new ConfigException("--since", "must be before --until");
    }
    if (batchSize < 1 || batchSize > 10_000) {
      throw new ConfigException("--batch-size", "must be 1..10000");
    }
    InvalidatorConfig cfg = connection.load();
    PrintWriter out = spec.commandLine().getOut();
    boolean onKafka = cfg.kafka().enabled();
    try (Servers servers = Servers.connect(cfg);
        KafkaTransport kafka = onKafka ? new KafkaTransport(cfg.kafka()) : null;
        dev.invalidator.kafka.KafkaEventPublisher kafkaPublisher =
            onKafka ? kafka.publisher(Clock.systemUTC()) : null) {
      dev.invalidator.core.EventPublisher publisher =
          onKafka
              ? kafkaPublisher
              : new RedisStreamPublisher(
                  servers.connection(), cfg.redis().keyScheme(), Clock.systemUTC());
      OutboxReplay replay =
          new OutboxReplay(
              servers.dataSource(),
              OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table()));
      long total = replay.count(from, to, tenant);
      if (dryRun) {
        out.printf("would re-publish %d row(s) relayed in [%s, %s)%n", total, from, to);
        return 0;
      }
      long start = System.nanoTime();
      long done =
          replay.replay(
              from,
              to,
              tenant,
              publisher,
              batchSize,
              (n, all) -> {
                double secs = Math.max(1e-3, (System.nanoTime() - start) / 1e9);
                out.printf("replayed %d / %d rows (%.0f rows/s)%n", n, all, n / secs);
                out.flush();
              });
      out.printf("re-published %d row(s) to %s%n", done, publisher.destination());
    }
    return 0;
  }
}
