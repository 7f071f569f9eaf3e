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

  @Option(
      names = "--wait-drained",
      paramLabel = "TIMEOUT",
      arity = "0..1",
      fallbackValue = "60s",
      description =
          "Wait until nothing is left to apply (no unrelayed outbox row, no pending or undelivered"
              + " stream entry), at most TIMEOUT (default 60s), printing progress; exit 0 when"
              + " drained, 3 when the timeout passed.")
  String waitDrained;

  @Override
  public Integer call() throws Exception {
    InvalidatorConfig cfg = connection.load();
    boolean onKafka = cfg.kafka().enabled();
    try (Servers servers = Servers.connectOneShot(cfg);
        KafkaTransport kafka = onKafka ? new KafkaTransport(cfg.kafka()) : null;
        RedisStreamSource source =
            onKafka
                ? null
                : RedisStreamSource.builder(servers.connector(), cfg.redis().keyScheme())
                    .group(cfg.worker().group())
                    .consumer("status")
                    .build()) {
      // On Kafka the same figures: lag from the group's committed offsets, dead letters in
      // <topic>-dlt.
      String streamName = onKafka ? kafka.topic() : cfg.redis().keyScheme().stream();
      String group = onKafka ? kafka.group() : cfg.worker().group();
      java.util.function.Supplier<StreamStats> stats =
          onKafka ? () -> kafka.stats(kafka.group()) : source::stats;
      OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
      if (waitDrained != null) {
        java.time.Duration timeout =
            dev.invalidator.server.config.Durations.parse("--wait-drained", waitDrained);
        if (!awaitDrained(servers, table, stats, timeout)) {
          return 3;
        }
      }
      OutboxStats outbox = OutboxStats.read(servers.dataSource(), table);
      StreamStats stream = stats.get();
      long dlq =
          onKafka
              ? kafka.deadLetterAdmin().depth()
              : new RedisDeadLetters(servers.connection(), cfg.redis().keyScheme()).depth();
      Map<String, Object> status =
          StatusFigures.of(
              outbox.pending(),
              outbox.oldestPendingAge(),
              streamName,
              stream.length(),
              group,
              stream.pending(),
              stream.lag(),
              stream.pendingPerConsumer(),
              dlq);
      if (cfg.workflows().enabled() || engineTablesExist(servers, cfg.workflows().schema())) {
        status = new java.util.LinkedHashMap<>(status);
        status.put("workflowStates", workflowStates(servers, cfg));
      }
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
              if (k.equals("workflowStates")) {
                ((Map<?, ?>) v)
                    .forEach((st, n) -> System.out.printf("%-28s %s%n", "workflows " + st, n));
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

  /** Whether a daemon with workflows has created the engine's status table in {@code schema}. */
  private static boolean engineTablesExist(Servers servers, String schema) throws Exception {
    try (java.sql.Connection c = servers.dataSource().getConnection();
        java.sql.ResultSet rs =
            c.getMetaData().getTables(null, schema, "workflow_status", new String[] {"TABLE"})) {
      return rs.next();
    }
  }

  /**
   * Workflows by running, waiting, succeeded, failed and cancelled, from the engine's tables in the
   * outbox database (what {@code /api/status} shows as {@code workflowStates}).
   */
  private static Map<String, Object> workflowStates(Servers servers, InvalidatorConfig cfg) {
    try (dev.invalidator.workflows.WorkflowAdmin admin =
        new dev.invalidator.workflows.WorkflowAdmin(
            servers.dataSource(), cfg.workflows().schema(), java.time.Clock.systemUTC())) {
      return new java.util.LinkedHashMap<>(admin.countsByDisplayState());
    } catch (IllegalStateException e) {
      // No daemon with workflows has created the engine's tables yet, or they are unreadable.
      return Map.of("error", String.valueOf(e.getMessage()));
    }
  }

  /**
   * Polls until the outbox has no unrelayed row and the group has nothing pending or undelivered;
   * prints what is left once a second on stderr. The same check {@code invalidator demo} makes
   * before it compares the cache with the database.
   */
  private static boolean awaitDrained(
      Servers servers,
      OutboxTable table,
      java.util.function.Supplier<StreamStats> source,
      java.time.Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long nextReport = 0;
    while (true) {
      OutboxStats outbox = OutboxStats.read(servers.dataSource(), table);
      StreamStats stream = source.get();
      long left = outbox.pending() + stream.pending() + Math.max(0, stream.lag());
      if (left == 0) {
        System.err.println("drained");
        return true;
      }
      long now = System.nanoTime();
      if (now >= deadline) {
        System.err.printf(
            "not drained after %s: outbox %d, stream pending %d, undelivered %d%n",
            dev.invalidator.server.config.Durations.format(timeout),
            outbox.pending(),
            stream.pending(),
            stream.lag());
        return false;
      }
      if (now >= nextReport) {
        System.err.printf(
            "waiting: outbox %d, stream pending %d, undelivered %d%n",
            outbox.pending(), stream.pending(), stream.lag());
        nextReport = now + 1_000_000_000L;
      }
      Thread.sleep(100);
    }
  }
}
