package dev.invalidator.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.invalidator.core.DeadLetterReason;
import dev.invalidator.kafka.KafkaDeadLetterAdmin;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.Durations;
import dev.invalidator.server.config.InvalidatorConfig;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code invalidator dlq list|show|redrive|drop}: inspect and act on dead letters. */
@Command(
    name = "dlq",
    mixinStandardHelpOptions = true,
    description =
        "Inspect and act on dead letters (the <prefix>:dlq stream, or <kafka.topic>-dlt when"
            + " transport is kafka).",
    subcommands = {
      DlqCommand.List.class,
      DlqCommand.Show.class,
      DlqCommand.Redrive.class,
      DlqCommand.Drop.class
    })
final class DlqCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Filters shared by list, redrive and drop. */
  static final class Filters {
    @Option(names = "--tenant", description = "Only dead letters of this tenant.")
    String tenant;

    @Option(
        names = "--target",
        description = "Only dead letters of this target ('*' for undecodable).")
    String target;

    @Option(
        names = "--reason",
        description =
            "Only this reason: poison, oversized, invalid, unknown_event_type, tenant_violation,"
                + " retries_exhausted.")
    String reason;

    @Option(
        names = {"--older-than", "--age"},
        paramLabel = "DURATION",
        description =
            "Only dead letters whose last failure is at least this old (30m, 2h, or a bare number of seconds).")
    String olderThan;

    @Option(
        names = "--limit",
        defaultValue = "1000",
        description = "At most this many (default: ${DEFAULT-VALUE}).")
    int limit;

    RedisDeadLetters.Filter filter() {
      if (reason != null) {
        try {
          DeadLetterReason.fromLabel(reason);
        } catch (IllegalArgumentException ex) {
          throw new ConfigException("--reason", "'" + reason + "' is not a dead-letter reason");
        }
      }
      Duration age = olderThan == null ? null : Durations.parse("--older-than", olderThan);
      return new RedisDeadLetters.Filter(tenant, target, reason, age);
    }

    /** The Kafka dead letters the filter matches, oldest first per partition, at most limit. */
    java.util.List<KafkaDeadLetterAdmin.Stored> kafka(KafkaDeadLetterAdmin dlt, Instant now) {
      RedisDeadLetters.Filter f = filter();
      return dlt.list(KAFKA_SCAN_LIMIT).stream()
          .filter(d -> f.matches(Base.asRedisShape(d), now))
          .limit(limit)
          .toList();
    }
  }

  /** Unhandled dead letters read from the topic per command before filtering. */
  static final int KAFKA_SCAN_LIMIT = 100_000;

  abstract static class Base implements Callable<Integer> {
    @Mixin ConnectionOptions connection;
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    @Override
    public Integer call() throws Exception {
      InvalidatorConfig cfg = connection.load();
      if (cfg.kafka().enabled()) {
        try (KafkaTransport kafka = new KafkaTransport(cfg.kafka())) {
          return runKafka(cfg, kafka.deadLetterAdmin());
        }
      }
      try (Servers servers = Servers.connect(cfg)) {
        RedisDeadLetters dlq = new RedisDeadLetters(servers.connection(), cfg.redis().keyScheme());
        return run(cfg, dlq);
      }
    }

    abstract int run(InvalidatorConfig cfg, RedisDeadLetters dlq) throws Exception;

    /** The same command on {@code <kafka.topic>-dlt}. */
    abstract int runKafka(InvalidatorConfig cfg, KafkaDeadLetterAdmin dlt) throws Exception;

    void printKafka(java.util.List<KafkaDeadLetterAdmin.Stored> letters) throws Exception {
      print(letters.stream().map(Base::asRedisShape).toList());
    }

    /** A Kafka dead letter in the shape list and show print (the source id is partition-offset). */
    static RedisDeadLetters.Stored asRedisShape(KafkaDeadLetterAdmin.Stored s) {
      String source =
          s.originalPartition() == null ? null : s.originalPartition() + "-" + s.originalOffset();
      return new RedisDeadLetters.Stored(
          s.id(),
          source,
          s.target(),
          s.reason(),
          s.attempts(),
          s.firstFailure(),
          s.lastFailure(),
          s.lastError(),
          s.original(),
          s.tenant());
    }

    void print(java.util.List<RedisDeadLetters.Stored> letters) throws Exception {
      if (json) {
        out().println(mapper().writeValueAsString(letters.stream().map(Base::asMap).toList()));
        return;
      }
      out()
          .printf(
              "%-18s %-16s %-10s %-18s %8s %-24s %s%n",
              "ID", "TENANT", "TARGET", "REASON", "ATTEMPTS", "LAST FAILURE", "LAST ERROR");
      for (RedisDeadLetters.Stored s : letters) {
        String err = s.lastError() == null ? "" : s.lastError().replaceAll("\\s+", " ");
        out()
            .printf(
                "%-18s %-16s %-10s %-18s %8d %-24s %s%n",
                s.id(),
                s.tenant() == null ? "-" : s.tenant(),
                s.target(),
                s.reason(),
                s.attempts(),
                s.lastFailure(),
                err.length() > 80 ? err.substring(0, 77) + "..." : err);
      }
      out().printf("%d dead letter(s)%n", letters.size());
    }

    static java.util.Map<String, Object> asMap(RedisDeadLetters.Stored s) {
      java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
      m.put("id", s.id());
      m.put("source_id", s.sourceId());
      m.put("tenant", s.tenant());
      m.put("target", s.target());
      m.put("reason", s.reason());
      m.put("attempts", s.attempts());
      m.put("first_failure", String.valueOf(s.firstFailure()));
      m.put("last_failure", String.valueOf(s.lastFailure()));
      m.put("last_error", s.lastError());
      m.put("original", s.original());
      return m;
    }

    static ObjectMapper mapper() {
      return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "List dead letters, oldest first.")
  static final class List extends Base {
    @Mixin Filters filters;

    @Override
    int run(InvalidatorConfig cfg, RedisDeadLetters dlq) throws Exception {
      print(dlq.list(filters.filter(), Instant.now(), filters.limit));
      return 0;
    }

    @Override
    int runKafka(InvalidatorConfig cfg, KafkaDeadLetterAdmin dlt) throws Exception {
      printKafka(filters.kafka(dlt, Instant.now()));
      return 0;
    }
  }

  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      description = "Show one dead letter in full, with its original entry.")
  static final class Show extends Base {
    @Parameters(paramLabel = "ID", description = "The dead letter's id (first column of list).")
    String id;

    @Override
    int run(InvalidatorConfig cfg, RedisDeadLetters dlq) throws Exception {
      var s = dlq.get(id);
      if (s.isEmpty()) {
        spec.commandLine().getErr().println("invalidator: no dead letter " + id);
        return 1;
      }
      if (json) {
        out().println(mapper().writeValueAsString(asMap(s.get())));
        return 0;
      }
      return show(s.get());
    }

    @Override
    int runKafka(InvalidatorConfig cfg, KafkaDeadLetterAdmin dlt) throws Exception {
      var s = dlt.find(id); // read at its offset, not found by scanning the topic
      if (s.isEmpty()) {
        spec.commandLine().getErr().println("invalidator: no dead letter " + id);
        return 1;
      }
      if (json) {
        out().println(mapper().writeValueAsString(asMap(asRedisShape(s.get()))));
        return 0;
      }
      return show(asRedisShape(s.get()));
    }

    private int show(RedisDeadLetters.Stored d) {
      out().printf("%-14s %s%n", "id", d.id());
      out().printf("%-14s %s%n", "source entry", d.sourceId());
      out().printf("%-14s %s%n", "tenant", d.tenant());
      out().printf("%-14s %s%n", "target", d.target());
      out().printf("%-14s %s%n", "reason", d.reason());
      out().printf("%-14s %d%n", "attempts", d.attempts());
      out().printf("%-14s %s%n", "first failure", d.firstFailure());
      out().printf("%-14s %s%n", "last failure", d.lastFailure());
      out().printf("%-14s %s%n", "last error", d.lastError());
      d.original().forEach((k, v) -> out().printf("%-14s %s%n", "orig." + k, v));
      return 0;
    }
  }

  @Command(
      name = "redrive",
      mixinStandardHelpOptions = true,
      description = {
        "Put matching dead letters back on the stream; each is removed from the dead letters only "
            + "after its new stream entry was added."
      })
  static final class Redrive extends Base {
    @Mixin Filters filters;

    @Option(names = "--dry-run", description = "Only count what would be redriven.")
    boolean dryRun;

    @Override
    int run(InvalidatorConfig cfg, RedisDeadLetters dlq) {
      var letters = dlq.list(filters.filter(), Instant.now(), filters.limit);
      if (dryRun) {
        out()
            .printf(
                "would redrive %d dead letter(s) to %s%n",
                letters.size(), cfg.redis().keyScheme().stream());
        return 0;
      }
      int n = dlq.redrive(letters, cfg.redis().keyScheme().stream(), Instant.now());
      out().printf("redrove %d dead letter(s) to %s%n", n, cfg.redis().keyScheme().stream());
      return 0;
    }

    @Override
    int runKafka(InvalidatorConfig cfg, KafkaDeadLetterAdmin dlt) {
      var letters = filters.kafka(dlt, Instant.now());
      if (dryRun) {
        out()
            .printf("would redrive %d dead letter(s) to %s%n", letters.size(), cfg.kafka().topic());
        return 0;
      }
      int n = dlt.redrive(letters);
      out().printf("redrove %d dead letter(s) to %s%n", n, cfg.kafka().topic());
      return 0;
    }
  }

  @Command(
      name = "drop",
      mixinStandardHelpOptions = true,
      description = "Delete matching dead letters for good.")
  static final class Drop extends Base {
    @Mixin Filters filters;

    @Option(names = "--dry-run", description = "Only count what would be deleted.")
    boolean dryRun;

    @Override
    int run(InvalidatorConfig cfg, RedisDeadLetters dlq) {
      var letters = dlq.list(filters.filter(), Instant.now(), filters.limit);
      if (dryRun) {
        out().printf("would drop %d dead letter(s)%n", letters.size());
        return 0;
      }
      out().printf("dropped %d dead letter(s)%n", dlq.drop(letters));
      return 0;
    }

    @Override
    int runKafka(InvalidatorConfig cfg, KafkaDeadLetterAdmin dlt) {
      var letters = filters.kafka(dlt, Instant.now());
      if (dryRun) {
        out().printf("would drop %d dead letter(s)%n", letters.size());
        return 0;
      }
      out().printf("dropped %d dead letter(s)%n", dlt.drop(letters));
      return 0;
    }
  }
}
