package dev.invalidator.server;

import dev.invalidator.core.FlushEvents;
import dev.invalidator.core.Identifiers;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.RedisClusterClients;
import dev.invalidator.redis.RedisConnection;
import dev.invalidator.redis.RedisConnector;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.Durations;
import dev.invalidator.server.config.InvalidatorConfig;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import java.io.PrintWriter;
import java.sql.Connection;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.sql.DataSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code invalidator flush --tenant T [--tag X] [--dry-run] [--wait]}: invalidates a whole tenant
 * or one of its tags through the pipeline, by writing one outbox event in its own transaction (see
 * {@link FlushEvents} for the event's shape). {@code --dry-run} only counts the keys the flush
 * would reach ({@code SCARD} of the tag set); {@code --wait} follows the worker's walk of the set
 * and prints its progress until it is done.
 */
@Command(
    name = "flush",
    mixinStandardHelpOptions = true,
    description = {
      "Invalidate every cached entry of a tenant, or of one tag of a tenant, through the outbox.",
      "The workers walk the tag set (the tenant's _all set for a whole-tenant flush)."
    })
final class FlushCommand implements Callable<Integer> {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Mixin ConnectionOptions connection;

  @Option(names = "--tenant", required = true, paramLabel = "T", description = "The tenant.")
  String tenant;

  @Option(
      names = "--tag",
      paramLabel = "X",
      description = "Only entries filled with this tag (default: every entry of the tenant).")
  String tag;

  @Option(
      names = "--dry-run",
      description = "Show how many keys the flush would reach; write nothing.")
  boolean dryRun;

  @Option(names = "--wait", description = "Wait until the workers applied it, showing progress.")
  boolean await;

  @Option(
      names = "--timeout",
      defaultValue = "10m",
      paramLabel = "DURATION",
      description =
          "How long --wait waits: 10m, 30s, or a bare number of seconds (default: ${DEFAULT-VALUE}).")
  String timeout;

  @Override
  public Integer call() throws Exception {
    InvalidatorConfig cfg = connection.load();
    PrintWriter out = spec.commandLine().getOut();
    try {
      Identifiers.tenant(tenant);
    } catch (InvalidEventException e) {
      throw new ConfigException("--tenant", e.getMessage());
    }
    if (tag != null) {
      try {
        KeyScheme.tagName(tag);
      } catch (InvalidEventException e) {
        throw new ConfigException("--tag", e.getMessage());
      }
    }
    long now = System.currentTimeMillis();
    InvalidationEvent event =
        tag == null ? FlushEvents.tenant(tenant, now) : FlushEvents.tag(tenant, tag, now);
    String setTag = event.payload().tags().get(0);
    String scope = tag == null ? "tenant " + tenant : "tag " + tag + " of tenant " + tenant;
    Duration wait = Durations.parse("--timeout", timeout);
    if (!cfg.redis().configured()) {
      throw new ConfigException("redis.url", "is required (or pass --redis-url)");
    }
    KeyScheme keys = cfg.redis().keyScheme();
    RedisConnector client =
        cfg.redis().cluster()
            ? RedisConnector.of(RedisClusterClients.create(cfg.redis().url()))
            : RedisConnector.of(RedisClient.create(RedisURI.create(cfg.redis().url())));
    try (RedisConnection<String, String> redis = client.connect()) {
      long members = redis.sync().scard(keys.tag(tenant, setTag));
      if (dryRun) {
        out.printf(
            "dry run: flushing %s would reach %d keys (set %s); nothing written%n",
            scope, members, keys.tag(tenant, setTag));
        return 0;
      }
      if (!cfg.postgres().configured()) {
        throw new ConfigException("database.url", "is required (or pass --db-url)");
      }
      try (var ds = Servers.dataSource(cfg)) {
        append(ds, OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table()), event);
      }
      out.printf(
          "flush of %s written to the outbox as event %s (%s), ~%d keys%n",
          scope, event.eventId(), event.eventType(), members);
      out.flush();
      if (!await) {
        return 0;
      }
      return follow(redis, keys.tagWalk(tenant, setTag), event.eventId().toString(), wait, out);
    } finally {
      client.client().shutdown();
    }
  }

  private static void append(DataSource ds, OutboxTable table, InvalidationEvent event)
      throws Exception {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      try {
        OutboxWriter.create(table).append(c, event);
        c.commit();
      } catch (Exception e) {
        c.rollback();
        throw e;
      }
    }
  }

  /** Polls the walk's progress hash once a second until the worker marks it done. */
  private static int follow(
      RedisConnection<String, String> redis,
      String progressKey,
      String eventId,
      Duration wait,
      PrintWriter out)
      throws InterruptedException {
    long deadline = System.nanoTime() + wait.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      Map<String, String> p = redis.sync().hgetall(progressKey);
      if (eventId.equals(p.get("event"))) {
        String line =
            String.format(
                "applying: %s of ~%s members scanned, %s unlinked",
                p.get("scanned"), p.get("total"), p.get("unlinked"));
        if ("1".equals(p.get("done"))) {
          out.printf(
              "done: %s members scanned, %s unlinked%n", p.get("scanned"), p.get("unlinked"));
          return 0;
        }
        if (!line.equals(last)) {
          out.println(line);
          out.flush();
          last = line;
        }
      } else if (last.isEmpty()) {
        out.println("waiting for the relay and a worker to pick it up...");
        out.flush();
        last = "waiting";
      }
      Thread.sleep(200); // polling a progress display, not synchronising anything
    }
    out.printf("not applied within %s (the event stays in the pipeline)%n", wait);
    return 3;
  }
}
