package dev.invalidator.outbox;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** {@link OutboxDialect} of PostgreSQL. */
final class PostgresDialect extends OutboxDialect {
  /** First key of the migration advisory lock; the second is the hash of the table name. */
  private static final int LOCK_CLASS = 0x494E5631; // "INV1"

  @Override
  public String name() {
    return "postgresql";
  }

  @Override
  public String qualified(OutboxTable table) {
    return table.qualified();
  }

  @Override
  public boolean notifies() {
    return true;
  }

  @Override
  String migrationLocation() {
    return "classpath:db/invalidator/postgresql";
  }

  @Override
  Map<String, String> placeholders(OutboxTable table) {
    return Map.of(
        "schema", table.schema(), "table", table.table(), "channel", table.notifyChannel());
  }

  @Override
  String flywaySchema(OutboxTable table) {
    return table.schema();
  }

  @Override
  void lockForMigration(Connection c, OutboxTable table) throws SQLException {
    advisoryLock(c, "SELECT pg_advisory_lock(?, hashtext(?))", table);
  }

  @Override
  void unlockForMigration(Connection c, OutboxTable table) throws SQLException {
    advisoryLock(c, "SELECT pg_advisory_unlock(?, hashtext(?))", table);
  }

  private static void advisoryLock(Connection c, String sql, OutboxTable table)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, LOCK_CLASS);
      ps.setString(2, table.toString());
      ps.execute();
    }
  }

  @Override
  List<String> drop(Connection c, OutboxTable table) throws SQLException {
    String schema = OutboxTable.quote(table.schema());
    List<String> dropped = new ArrayList<>();
    try (Statement s = c.createStatement()) {
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
    }
    return dropped;
  }

  private static boolean exists(Connection c, String lookup, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT " + lookup + " IS NOT NULL")) {
      ps.setString(1, name);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  @Override
  String columns() {
    return "id, event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
        + " payload::text, traceparent, tracestate, created_at";
  }

  @Override
  int relayIsolation() {
    return Connection.TRANSACTION_NONE;
  }

  @Override
  void beforeClaim(Connection c) {
    // Nothing: the claim's settings travel in the claim's own round trip (see claim).
  }

  /**
   * The claim transaction's settings, for this transaction only:
   *
   * <ul>
   *   <li>The claim must walk the unrelayed index in id order and stop after {@code limit} rows.
   *       Without fresh statistics (a new table, autovacuum off or behind) PostgreSQL picks a
   *       bitmap scan of every unrelayed row and sorts them all: the cost of a claim then grows
   *       with the backlog, and a relay that falls behind falls further behind (measured: 22 ms per
   *       claim behind 50,000 rows on an idle server, seconds on a loaded one).
   *   <li>The commit need not wait for its WAL flush: a mark lost in a crash only makes the rows be
   *       published again, a duplicate that is harmless (G4). Waiting for the flush put a second
   *       fsync, and every stall of the disk, between the writer's commit and the apply (measured:
   *       pauses of 300 ms at 2,000 events/s).
   * </ul>
   */
  private static final String CLAIM_SETTINGS =
      "SET LOCAL enable_bitmapscan = off; SET LOCAL enable_seqscan = off;"
          + " SET LOCAL synchronous_commit = off; ";

  @Override
  void claim(Connection c, OutboxTable table, int limit, RowReader rowReader) throws SQLException {
    // Claim and mark in one statement: the rows are locked (SKIP LOCKED keeps concurrent relays
    // apart) and marked relayed in this transaction, which commits only after the publish
    // succeeded; a failed publish rolls the mark back. One round trip fewer than claim, publish,
    // mark.
    //
    // The settings travel in the same round trip: one prepared statement of four queries, which
    // the driver sends together and the server runs in order (so the UPDATE is planned with
    // them). A separate SET LOCAL cost a round trip per batch, a third of the relay's database
    // round trips.
    String t = table.qualified();
    String sql =
        CLAIM_SETTINGS
            + "UPDATE "
            + t
            + " SET relayed_at = clock_timestamp() WHERE id = ANY(ARRAY(SELECT id FROM "
            + t
            + " WHERE relayed_at IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED))"
            + " RETURNING "
            + columns();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, limit);
      boolean resultSet = ps.execute();
      while (!resultSet && ps.getUpdateCount() != -1) {
        resultSet = ps.getMoreResults();
      }
      if (!resultSet) {
        throw new SQLException("the claim of " + table + " returned no result set");
      }
      try (ResultSet rs = ps.getResultSet()) {
        while (rs.next()) {
          rowReader.read(rs);
        }
      }
    }
  }

  @Override
  int deleteRelayedBefore(Connection c, OutboxTable table, Instant cutoff, int limit)
      throws SQLException {
    String t = table.qualified();
    String sql =
        "DELETE FROM "
            + t
            + " WHERE id IN (SELECT id FROM "
            + t
            + " WHERE relayed_at < ? AND relay_error IS NULL ORDER BY id LIMIT ?"
            + " FOR UPDATE SKIP LOCKED)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, OffsetDateTime.ofInstant(cutoff, ZoneOffset.UTC));
      ps.setInt(2, limit);
      return ps.executeUpdate();
    }
  }

  @Override
  String insert(OutboxTable table) {
    return "INSERT INTO "
        + table.qualified()
        + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,"
        + " event_type, payload, traceparent, tracestate)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)";
  }

  @Override
  void setUuid(PreparedStatement ps, int index, UUID value) throws SQLException {
    ps.setObject(index, value);
  }

  @Override
  UUID getUuid(ResultSet rs, int index) throws SQLException {
    return rs.getObject(index, UUID.class);
  }

  @Override
  void setInstant(PreparedStatement ps, int index, Instant value) throws SQLException {
    ps.setTimestamp(index, Timestamp.from(value));
  }

  @Override
  Instant getInstant(ResultSet rs, int index) throws SQLException {
    OffsetDateTime t = rs.getObject(index, OffsetDateTime.class);
    return t == null ? null : t.toInstant();
  }
}
