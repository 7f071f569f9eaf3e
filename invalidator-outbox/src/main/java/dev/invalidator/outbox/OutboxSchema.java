package dev.invalidator.outbox;

import dev.invalidator.core.InvalidatorException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and upgrades an outbox table with Flyway.
 *
 * <p>Each outbox table has its own history table, {@code <table>_schema_history} in the same
 * schema, so several outbox tables (several applications, or tests) coexist in one database. The
 * migrations live in {@code db/invalidator/postgresql} and {@code db/invalidator/mysql} (MySQL 8
 * and MariaDB 10.6+), one set per {@link OutboxDialect}, which is found from the data source; they
 * are parameterised by schema (on MySQL the database), table and notification channel.
 *
 * <p>Two processes may call {@link #migrate} at the same time: one applies, the other waits and
 * finds nothing left to do. Flyway's own lock covers applying migrations but not creating and
 * baselining a missing history table, where two racing processes fail; so the whole migration runs
 * under a session lock keyed by the table ({@code pg_advisory_lock}, MySQL's {@code GET_LOCK}),
 * held on a separate connection. Migrating therefore needs two connections from the data source.
 */
public final class OutboxSchema {
  /** Classpath location of the PostgreSQL migrations. */
  public static final String LOCATION = "classpath:db/invalidator/postgresql";

  /** Classpath location of the MySQL and MariaDB migrations. */
  public static final String MYSQL_LOCATION = "classpath:db/invalidator/mysql";

  private static final Logger log = LoggerFactory.getLogger(OutboxSchema.class);

  private OutboxSchema() {}

  /**
   * Removes everything {@link #migrate} created for {@code table}: the table with its rows and
   * indexes, the history table {@code <table>_schema_history}, and on PostgreSQL the wake-up
   * trigger and its function {@code <table>_wakeup()}. Idempotent; other outboxes in the schema are
   * untouched.
   *
   * @return the objects that existed and were dropped
   * @throws InvalidatorException (permanent) when a statement failed
   */
  public static List<String> drop(DataSource dataSource, OutboxTable table) {
    Objects.requireNonNull(dataSource, "dataSource");
    Objects.requireNonNull(table, "table");
    try (Connection c = dataSource.getConnection()) {
      OutboxDialect dialect = OutboxDialect.of(c);
      dialect.lockForMigration(c, table);
      try {
        return dialect.drop(c, table);
      } finally {
        dialect.unlockForMigration(c, table);
      }
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "dropping outbox " + table + " failed: " + ex.getMessage(), false, ex);
    }
  }

  /**
   * Brings {@code table} to the newest schema version, creating the schema if missing. Idempotent.
   *
   * @return the migrations applied by this call, such as {@code "1 outbox"}; empty when the table
   *     was already up to date
   * @throws InvalidatorException (permanent) when a migration fails
   */
  public static List<String> migrate(DataSource dataSource, OutboxTable table) {
    Objects.requireNonNull(dataSource, "dataSource");
    Objects.requireNonNull(table, "table");
    OutboxDialect dialect = OutboxDialect.of(dataSource);
    FluentConfiguration config =
        Flyway.configure(OutboxSchema.class.getClassLoader())
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
    List<String> applied =
        result.migrations.stream().map(m -> m.version + " " + m.description).toList();
    if (applied.isEmpty()) {
      log.debug("outbox {} is up to date", table);
    } else {
      log.info("outbox {} migrated: {}", table, applied);
    }
    return applied;
  }
}
