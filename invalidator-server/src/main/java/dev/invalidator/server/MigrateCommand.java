package dev.invalidator.server;

import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.server.config.InvalidatorConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code invalidator migrate}: creates or upgrades the outbox schema. */
@Command(
    name = "migrate",
    mixinStandardHelpOptions = true,
    description =
        "Create or upgrade the outbox table (idempotent; safe to run from several processes).")
final class MigrateCommand implements Callable<Integer> {
  @Mixin ConnectionOptions connection;

  @Override
  public Integer call() {
    InvalidatorConfig cfg = connection.load();
    if (!cfg.postgres().configured()) {
      throw new dev.invalidator.server.config.ConfigException(
          "postgres.url", "is required (or pass --postgres-url)");
    }
    try (HikariDataSource ds = Servers.dataSource(cfg)) {
      OutboxTable table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
      Object result = OutboxSchema.migrate(ds, table);
      System.out.println("migrated " + table.qualified() + ": " + result);
    }
    return 0;
  }
}
