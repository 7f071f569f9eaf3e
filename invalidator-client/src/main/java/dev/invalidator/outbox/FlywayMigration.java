package dev.invalidator.outbox;

import dev.invalidator.core.InvalidatorException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * {@link OutboxSchema#migrate}'s use of Flyway, the one class that names Flyway's types: Flyway is
 * optional in {@code invalidator-client}, and this class is loaded only once {@link
 * OptionalDependencies#requireFlyway} has found it.
 */
final class FlywayMigration {
  private FlywayMigration() {}

  static List<String> migrate(DataSource dataSource, OutboxTable table, OutboxDialect dialect) {
    FluentConfiguration config =
        Flyway.configure(FlywayMigration.class.getClassLoader())
            .dataSource(dataSource)
            .locations(dialect.migrationLocation())
            .table(table.historyTable())
            .placeholders(dialect.placeholders(table))
            // The schema usually holds other tables already (public, an application schema):
            // start this outbox's history at version 0 so that V1 still runs.
            .baselineOnMigrate(true)
            .baselineVersion("0")
            .baselineDescription("before invalidator outbox " + table.table())
            .cleanDisabled(true);
    if (dialect.flywaySchema(table) != null) {
      config.schemas(dialect.flywaySchema(table));
    }
    Flyway flyway = config.load();
    MigrateResult result;
    try (Connection lock = dataSource.getConnection()) {
      dialect.lockForMigration(lock, table);
      try {
        result = flyway.migrate();
      } finally {
        dialect.unlockForMigration(lock, table);
      }
    } catch (FlywayException ex) {
      throw new InvalidatorException(
          "migrating outbox " + table + " failed: " + ex.getMessage(), false, ex);
    } catch (SQLException ex) {
      throw SqlErrors.translate("locking outbox " + table + " for migration", ex);
    }
    return result.migrations.stream().map(m -> m.version + " " + m.description).toList();
  }
}
