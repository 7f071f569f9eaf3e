package dev.invalidator.outbox;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * A snapshot of an outbox: what {@code invalidator status} and the {@code outbox_pending} and
 * {@code outbox_oldest_age_seconds} gauges show.
 *
 * @param pending rows not yet relayed
 * @param oldestPendingCreatedAt {@code created_at} of the oldest unrelayed row; null when none
 * @param oldestPendingAge how long that row has waited; zero when none is waiting
 * @param quarantined rows the relay could not turn into valid events (see {@code PollingRelay})
 */
public record OutboxStats(
    long pending, Instant oldestPendingCreatedAt, Duration oldestPendingAge, long quarantined) {

  /** Reads the statistics of {@code table}, ages by the system clock. */
  public static OutboxStats read(DataSource dataSource, OutboxTable table) {
    return read(dataSource, table, Clock.systemUTC());
  }

  /**
   * Reads the statistics of {@code table}, ages by {@code clock}. Both counts use partial indexes,
   * so this stays cheap on a large table.
   *
   * @throws dev.invalidator.core.InvalidatorException when the query failed
   */
  public static OutboxStats read(DataSource dataSource, OutboxTable table, Clock clock) {
    Objects.requireNonNull(dataSource, "dataSource");
    Objects.requireNonNull(table, "table");
    Objects.requireNonNull(clock, "clock");
    try (Connection c = dataSource.getConnection()) {
      return read(c, table, clock);
    } catch (SQLException ex) {
      throw SqlErrors.translate("reading statistics of " + table, ex);
    }
  }

  private static OutboxStats read(Connection c, OutboxTable table, Clock clock)
      throws SQLException {
    OutboxDialect dialect = OutboxDialect.of(c);
    String t = dialect.qualified(table);
    String sql =
        "SELECT (SELECT count(*) FROM "
            + t
            + " WHERE relayed_at IS NULL), (SELECT min(created_at) FROM "
            + t
            + " WHERE relayed_at IS NULL), (SELECT count(*) FROM "
            + t
            + " WHERE relay_error IS NOT NULL)";
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      long pending = rs.getLong(1);
      Instant oldest = dialect.getInstant(rs, 2);
      long quarantined = rs.getLong(3);
      if (oldest == null) {
        return new OutboxStats(pending, null, Duration.ZERO, quarantined);
      }
      Duration age = Duration.between(oldest, clock.instant());
      return new OutboxStats(pending, oldest, age.isNegative() ? Duration.ZERO : age, quarantined);
    }
  }

  /**
   * Per tenant, the creation time of its oldest row not yet relayed (the outbox half of per-tenant
   * staleness).
   *
   * @throws dev.invalidator.core.InvalidatorException when the query failed
   */
  public static Map<String, Instant> oldestUnrelayedByTenant(
      DataSource dataSource, OutboxTable table) {
    Map<String, Instant> oldest = new HashMap<>();
    try (Connection c = dataSource.getConnection()) {
      OutboxDialect dialect = OutboxDialect.of(c);
      String sql =
          "SELECT tenant_id, min(created_at) FROM "
              + dialect.qualified(table)
              + " WHERE relayed_at IS NULL GROUP BY tenant_id";
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery(sql)) {
        while (rs.next()) {
          oldest.put(rs.getString(1), dialect.getInstant(rs, 2));
        }
      }
    } catch (SQLException ex) {
      throw SqlErrors.translate("reading per-tenant backlog of " + table, ex);
    }
    return oldest;
  }
}
