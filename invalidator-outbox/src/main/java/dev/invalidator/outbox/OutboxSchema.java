package dev.invalidator.outbox;

import dev.invalidator.core.InvalidatorException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates and upgrades an outbox table with Flyway.
 *
 * <p>Each outbox table has its own history table, {@code <table>_schema_history} in the same
 * schema, so several outbox tables (several applications, or tests) coexist in one database. The
 * migrations live in {@code db/invalidator/postgresql} and are parameterised by schema, table and
 * notification channel.
 *
 * <p>Two processes may call {@link #migrate} at the same time: one applies, the other waits and
 * finds nothing left to do. Flyway's own lock covers applying migrations but not creating and
 * baselining a missing history table, where two racing processes fail; so the whole migration runs
 * under a session advisory lock keyed by the table, held on a separate connection. Migrating
 * therefore needs two connections from the data source.
 */
public final class OutboxSchema {
  /** Classpath location of the PostgreSQL migrations. */
  public static final String LOCATION = "classpath:db/invalidator/postgresql";

  private static final Logger log = LoggerFactory.getLogger(OutboxSchema.class);

  /** First key of the advisory lock; the second is the hash of the qualified table name. */
  private static final int LOCK_CLASS = 0x494E5631; // "INV1"

  private OutboxSchema() {}

  /**
   * Removes everything {@link #migrate} created for {@code table}: the table with its rows, indexes
   * and wake-up trigger, the trigger function {@code <table>_wakeup()} and the history table {@code
   * <table>_schema_history}. Idempotent; other outboxes in the schema are untouched.
   *
   * @return the objects that existed and were dropped
   * @throws InvalidatorException (permanent) when a statement failed
   */
  public static List<String> drop(DataSource dataSource, OutboxTable table) {
    Objects.requireNonNull(dataSource, "dataSource");
    Objects.requireNonNull(table, "table");
    String schema = OutboxTable.quote(table.schema());
    java.util.List<String> dropped = new java.util.ArrayList<>();
    try (Connection c = dataSource.getConnection()) {
      advisoryLock(c, "SELECT pg_advisory_lock(?, hashtext(?))", table);
      try (java.sql.Statement s = c.createStatement()) {
        if (exists(c, "to_regclass(?)", table.schema() + "." + table.table())) {
          s.execute("DROP TABLE " + table.qualified() + " CASCADE");
          dropped.add("table " + table.qualified());
        }
        String history = schema + "." + OutboxTable.quote(table.historyTable());
        if (exists(c, "to_regclass(?)", table.schema() + "." + table.historyTable())) {
          s.execute("DROP TABLE " + history);
          dropped.add("table " + history);
        }
        // The CDC relay's offsets (relay.mode: cdc) belong to this outbox too.
        String offsets = schema + "." + OutboxTable.quote(table.table() + "_cdc_offsets");
        if (exists(c, "to_regclass(?)", table.schema() + "." + table.table() + "_cdc_offsets")) {
          s.execute("DROP TABLE " + offsets);
          dropped.add("table " + offsets);
        }
        String fn = schema + "." + OutboxTable.quote(table.table() + "_wakeup") + "()";
        if (exists(c, "to_regprocedure(?)", table.schema() + "." + table.table() + "_wakeup()")) {
          s.execute("DROP FUNCTION " + fn);
          dropped.add("function " + fn);
        }
      } finally {
        advisoryLock(c, "SELECT pg_advisory_unlock(?, hashtext(?))", table);
      }
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "dropping outbox " + table + " failed: " + ex.getMessage(), false, ex);
    }
    return dropped;
  }

  private static boolean exists(Connection c, String lookup, String name) throws SQLException {
    try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT " + lookup + " IS NOT NULL")) {
      ps.setString(1, name);
      try (java.sql.ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
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
    Flyway flyway =
        Flyway.configure(OutboxSchema.class.getClassLoader())
            .dataSource(dataSource)
            .locations(LOCATION)
            .schemas(table.schema())
            .table(table.historyTable())
            .placeholders(
                Map.of(
                    "schema", table.schema(),
                    "table", table.table(),
                    "channel", table.notifyChannel()))
            // The schema usually holds other tables already (public, an application schema):
            // start this outbox's history at version 0 so that V1 still runs.
            .baselineOnMigrate(true)
            .baselineVersion("0")
            .baselineDescription("before invalidator outbox " + table.table())
            .cleanDisabled(true)
            .load();
    MigrateResult result;
    try (Connection lock = dataSource.getConnection()) {
      advisoryLock(lock, "SELECT pg_advisory_lock(?, hashtext(?))", table);
      try {
        result = flyway.migrate();
      } finally {
        advisoryLock(lock, "SELECT pg_advisory_unlock(?, hashtext(?))", table);
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

  private static void advisoryLock(Connection c, String sql, OutboxTable table)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, LOCK_CLASS);
      ps.setString(2, table.toString());
      ps.execute();
    }
  }
}
