package dev.invalidator.outbox;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * What differs between the databases an outbox can live in: PostgreSQL, and MySQL 8 / MariaDB
 * 10.6+. Everything else ({@code PollingRelay}, {@link OutboxWriter}, {@link OutboxSchema}, {@link
 * OutboxStats}, {@code OutboxReplay}) is written once against this seam: claim and mark, retention
 * clean-up, wake-up, schema migrations and locks, identifier quoting, and how UUIDs and timestamps
 * travel through JDBC.
 *
 * <p>The dialect follows from the database: {@link #forJdbcUrl} by the URL's scheme ({@code
 * jdbc:postgresql:}, {@code jdbc:mysql:}, {@code jdbc:mariadb:}), {@link #of(Connection)} by the
 * server the connection talks to. The library's classes find it from their data source or
 * connection, so callers never pass it.
 */
public abstract sealed class OutboxDialect permits PostgresDialect, MySqlDialect {
  /** PostgreSQL 13+: claim with {@code UPDATE ... RETURNING}, wake-up by LISTEN/NOTIFY. */
  public static final OutboxDialect POSTGRESQL = new PostgresDialect();

  /**
   * MySQL 8 and MariaDB 10.6+: claim with {@code SELECT ... FOR UPDATE SKIP LOCKED} at READ
   * COMMITTED, no wake-up (adaptive polling), timestamps stored in UTC.
   */
  public static final OutboxDialect MYSQL = new MySqlDialect();

  OutboxDialect() {}

  /**
   * The dialect of a JDBC URL.
   *
   * @throws IllegalArgumentException naming {@code database.url} when the scheme is none of {@code
   *     jdbc:postgresql:}, {@code jdbc:mysql:}, {@code jdbc:mariadb:}
   */
  public static OutboxDialect forJdbcUrl(String jdbcUrl) {
    String url = jdbcUrl == null ? "" : jdbcUrl.toLowerCase(Locale.ROOT);
    if (url.startsWith("jdbc:postgresql:")) {
      return POSTGRESQL;
    }
    if (url.startsWith("jdbc:mysql:") || url.startsWith("jdbc:mariadb:")) {
      return MYSQL;
    }
    throw new IllegalArgumentException(
        "database.url must start with jdbc:postgresql:, jdbc:mysql: or jdbc:mariadb:, got "
            + (jdbcUrl == null ? "nothing" : "'" + schemeOf(jdbcUrl) + "...'"));
  }

  /** The scheme part only: the rest of a URL may carry a password. */
  private static String schemeOf(String url) {
    int slashes = url.indexOf("//");
    return slashes < 0 ? url.substring(0, Math.min(url.length(), 16)) : url.substring(0, slashes);
  }

  /**
   * The dialect of the server {@code connection} talks to, by the driver's product name.
   *
   * @throws SQLException from the driver, or when the database is none of the supported ones
   */
  public static OutboxDialect of(Connection connection) throws SQLException {
    String product = connection.getMetaData().getDatabaseProductName();
    String p = product == null ? "" : product.toLowerCase(Locale.ROOT);
    if (p.contains("postgres")) {
      return POSTGRESQL;
    }
    if (p.contains("mysql") || p.contains("mariadb")) {
      return MYSQL;
    }
    throw new SQLException(
        "the outbox supports PostgreSQL, MySQL and MariaDB, this connection is to " + product);
  }

  /**
   * The dialect of the database {@code dataSource} connects to (borrows one connection).
   *
   * @throws dev.invalidator.core.InvalidatorException when no connection could be had
   */
  public static OutboxDialect of(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    try (Connection c = dataSource.getConnection()) {
      return of(c);
    } catch (SQLException ex) {
      throw SqlErrors.translate("finding the database of the outbox", ex);
    }
  }

  /** {@code postgresql} or {@code mysql}. */
  public abstract String name();

  /**
   * The quoted qualified name of {@code table} for SQL text: {@code "schema"."table"} on
   * PostgreSQL; {@code `database`.`table`} on MySQL/MariaDB, where the schema names a database and
   * the default {@code public} means the database of the connection's URL ({@code `table`}).
   */
  public abstract String qualified(OutboxTable table);

  /** Whether the relay can wait for a notification (LISTEN/NOTIFY) instead of polling. */
  public abstract boolean notifies();

  @Override
  public String toString() {
    return name();
  }

  // --- Package-private: what the outbox classes need ----------------------------------------

  /** Classpath location of this database's migrations. */
  abstract String migrationLocation();

  /** Flyway placeholders of the migrations. */
  abstract Map<String, String> placeholders(OutboxTable table);

  /** The schema Flyway should manage, or null for the connection's current one. */
  abstract String flywaySchema(OutboxTable table);

  /** Takes the migration lock of {@code table} on {@code c}, waiting as long as it takes. */
  abstract void lockForMigration(Connection c, OutboxTable table) throws SQLException;

  /** Releases what {@link #lockForMigration} took. */
  abstract void unlockForMigration(Connection c, OutboxTable table) throws SQLException;

  /** Drops everything the migrations created; returns descriptions of what existed. */
  abstract List<String> drop(Connection c, OutboxTable table) throws SQLException;

  /** The columns {@code OutboxRows.toEvent} reads, in order (the payload as text). */
  abstract String columns();

  /**
   * The isolation level relay transactions (claim, mark, clean-up) run at, as a {@link Connection}
   * constant; or {@link Connection#TRANSACTION_NONE} for the connection's own.
   */
  abstract int relayIsolation();

  /** Per-transaction settings before a claim, on a connection not in auto-commit. */
  abstract void beforeClaim(Connection c) throws SQLException;

  /**
   * Claims up to {@code limit} unrelayed rows in id order ({@code FOR UPDATE SKIP LOCKED}) and
   * marks them relayed, in the caller's transaction; {@code rowReader} is called once per claimed
   * row with the result set positioned on it ({@link #columns()} order).
   */
  abstract void claim(Connection c, OutboxTable table, int limit, RowReader rowReader)
      throws SQLException;

  /** Deletes up to {@code limit} relayed, not quarantined rows relayed before {@code cutoff}. */
  abstract int deleteRelayedBefore(Connection c, OutboxTable table, Instant cutoff, int limit)
      throws SQLException;

  /** The writer's INSERT, parameters in {@link JdbcOutboxWriter}'s order. */
  abstract String insert(OutboxTable table);

  abstract void setUuid(PreparedStatement ps, int index, UUID value) throws SQLException;

  /** A UUID column; null when it is null or, on MySQL, not a UUID at all. */
  abstract UUID getUuid(ResultSet rs, int index) throws SQLException;

  abstract void setInstant(PreparedStatement ps, int index, Instant value) throws SQLException;

  abstract Instant getInstant(ResultSet rs, int index) throws SQLException;

  /** Called per claimed row. */
  @FunctionalInterface
  interface RowReader {
    void read(ResultSet rs) throws SQLException;
  }
}
