package dev.invalidator.server;

import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.server.config.InvalidatorConfig;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code invalidator migrate}: creates or upgrades the outbox schema, or removes it. */
@Command(
    name = "migrate",
    mixinStandardHelpOptions = true,
    description = {
      "Create or upgrade the outbox table (idempotent; safe to run from several processes).",
      "With --drop, remove everything migrate created: the table, its trigger function and its "
          + "<table>_schema_history table."
    })
final class MigrateCommand implements Callable<Integer> {
  @Mixin ConnectionOptions connection;

  @Option(
      names = "--drop",
      description =
          "Remove the outbox table, its wake-up function and its history table instead of"
              + " migrating. Refused while rows wait to be relayed, unless --force.")
  boolean drop;

  @Option(
      names = "--force",
      description = "With --drop: drop even while rows wait to be relayed (they are lost).")
  boolean force;

  @Override
  public Integer call() {
    InvalidatorConfig cfg = connection.load();
    if (!cfg.postgres().configured()) {
      throw new dev.invalidator.server.config.ConfigException(
          "database.url", "is required (or pass --db-url)");
    }
    try (HikariDataSource ds = Servers.dataSource(cfg)) {
      OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
      if (drop) {
        return drop(ds, table, cfg.postgres().dialect());
      }
      Object result = OutboxSchema.migrate(ds, table);
      System.out.println("migrated " + cfg.postgres().dialect().qualified(table) + ": " + result);
    }
    return 0;
  }

  private int drop(
      HikariDataSource ds, OutboxTable table, dev.invalidator.outbox.OutboxDialect dialect) {
    if (!force) {
      long waiting;
      try {
        waiting = OutboxStats.read(ds, table).pending();
      } catch (RuntimeException e) {
        waiting = 0; // no table: nothing waits, and drop below reports what existed
      }
      if (waiting > 0) {
        System.err.println(
            "invalidator: refusing to drop "
                + dialect.qualified(table)
                + ": "
                + waiting
                + " rows wait to be relayed and would never invalidate anything; let the relay"
                + " drain it, or pass --force");
        return 1;
      }
    }
    List<String> dropped = OutboxSchema.drop(ds, table);
    System.out.println(
        dropped.isEmpty()
            ? "nothing to drop: " + dialect.qualified(table) + " does not exist"
            : "dropped " + String.join(", ", dropped));
    return 0;
  }
}
