package dev.invalidator.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.StreamStats;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.observe.StatusFigures;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code invalidator status}: how far behind the pipeline is, right now. */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    description =
        "Show outbox backlog and age, stream length and lag, pending entries per consumer, dead letters.")
final class StatusCommand implements Callable<Integer> {
  @Mixin ConnectionOptions connection;

  @Option(names = "--json", description = "Print JSON instead of a table.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    InvalidatorConfig cfg = connection.load();
    try (Servers servers = Servers.connect(cfg);
        RedisStreamSource source =
            RedisStreamSource.builder(servers.redis(), cfg.redis().keyScheme())
                .group(cfg.worker().group())
                .consumer("status")
                .build()) {
      OutboxStats outbox =
          OutboxStats.read(
              servers.dataSource(),
              OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table()));
      StreamStats stream = source.stats();
      long dlq = new RedisDeadLetters(servers.connection(), cfg.redis().keyScheme()).depth();
      Map<String, Object> status =
          StatusFigures.of(
              outbox.pending(),
              outbox.oldestPendingAge(),
              cfg.redis().keyScheme().stream(),
              stream.length(),
              cfg.worker().group(),
              stream.pending(),
              stream.lag(),
              stream.pendingPerConsumer(),
              dlq);
      if (json) {
        System.out.println(
            new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(status));
      } else {
        System.out.printf("%-28s %s%n", "FIGURE", "VALUE");
        status.forEach(
            (k, v) -> {
              if (!(v instanceof Map)) {
                System.out.printf("%-28s %s%n", k, v);
              }
            });
        System.out.println();
        System.out.printf("%-40s %s%n", "CONSUMER", "PENDING");
        if (stream.pendingPerConsumer().isEmpty()) {
          System.out.printf("%-40s %s%n", "(none)", "-");
        }
        stream.pendingPerConsumer().forEach((c, n) -> System.out.printf("%-40s %d%n", c, n));
      }
    }
    return 0;
  }
}
