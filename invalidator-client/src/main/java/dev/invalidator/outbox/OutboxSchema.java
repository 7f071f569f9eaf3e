package dev.invalidator.outbox;

import dev.invalidator.core.InvalidatorException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;
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
 *
 * <p>Flyway is an optional dependency of {@code invalidator-client}: {@link #migrate} needs {@code
 * org.flywaydb:flyway-core} with {@code flyway-database-postgresql} or {@code flyway-mysql}, and
 * without them refuses, naming them; {@link #drop} needs nothing more.
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
   * @throws InvalidatorException (permanent) when a migration fails, or Flyway or its module for
   *     the database is not on the class path (the message names the artifacts to add)
   */
  public static List<String> migrate(DataSource dataSource, OutboxTable table) {
    Objects.requireNonNull(dataSource, "dataSource");
    Objects.requireNonNull(table, "table");
    OutboxDialect dialect = OutboxDialect.of(dataSource);
    OptionalDependencies.requireFlyway(dialect, "OutboxSchema.migrate");
    List<String> applied = FlywayMigration.migrate(dataSource, table, dialect);
    if (applied.isEmpty()) {
      log.debug("outbox {} is up to date", table);
    } else {
      log.info("outbox {} migrated: {}", table, applied);
    }
    return applied;
  }
}
