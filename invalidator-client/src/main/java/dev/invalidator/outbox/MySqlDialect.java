package dev.invalidator.outbox;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.UUID;

/**
 * {@link OutboxDialect} of MySQL 8 and MariaDB 10.6+ (InnoDB).
 *
 * <p>Design notes. There is no {@code UPDATE ... RETURNING}, so a claim is two statements in one
 * transaction: {@code SELECT ... WHERE relayed_at IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP
 * LOCKED}, then an {@code UPDATE} of the claimed ids. A row inserted by a transaction that has not
 * committed carries that transaction's lock, so SKIP LOCKED passes over it and a later claim takes
 * it once committed, whatever its id: late commits with low ids are not skipped (G1), exactly as on
 * PostgreSQL. Relay transactions run at READ COMMITTED: under InnoDB's default REPEATABLE READ the
 * claim's locking read also takes next-key and gap locks on the {@code (relayed_at, id)} index,
 * which is exactly where producers insert their new rows ({@code relayed_at} null, the highest id),
 * so producers would wait for the relay and deadlock on insert intention locks. Timestamps are
 * {@code DATETIME(6)} holding UTC ({@code UTC_TIMESTAMP(6)}, bound and read as UTC local date
 * times), so neither the session's nor the server's time zone changes them. There is no
 * LISTEN/NOTIFY: the relay polls, soon while rows arrive and less often while idle.
 */
final class MySqlDialect extends OutboxDialect {
  /** Longest wait for the migration lock; a migration never takes this long. */
  private static final int LOCK_TIMEOUT_SECONDS = 600;

  @Override
  public String name() {
    return "mysql";
  }

  @Override
  public String qualified(OutboxTable table) {
    return prefix(table) + quote(table.table());
  }

  /** {@code `database`.} or nothing for the connection's database. */
  private static String prefix(OutboxTable table) {
    return OutboxTable.DEFAULT_SCHEMA.equals(table.schema()) ? "" : quote(table.schema()) + ".";
  }

  static String quote(String identifier) {
    return '`' + identifier + '`';
  }

  @Override
  public boolean notifies() {
    return false;
  }

  @Override
  String migrationLocation() {
    return "classpath:db/invalidator/mysql";
  }

  @Override
  Map<String, String> placeholders(OutboxTable table) {
    return Map.of("prefix", prefix(table), "table", table.table());
  }

  @Override
  String flywaySchema(OutboxTable table) {
    return OutboxTable.DEFAULT_SCHEMA.equals(table.schema()) ? null : table.schema();
  }

  /** GET_LOCK names are at most 64 characters: a hash of the qualified name. */
  private static String lockName(OutboxTable table) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(table.toString().getBytes(StandardCharsets.UTF_8));
      return "invalidator_migrate_" + HexFormat.of().formatHex(digest, 0, 16);
    } catch (NoSuchAlgorithmException ex) {
      throw new IllegalStateException(ex);
    }
  }

  @Override
  void lockForMigration(Connection c, OutboxTable table) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT GET_LOCK(?, ?)")) {
      ps.setString(1, lockName(table));
      ps.setInt(2, LOCK_TIMEOUT_SECONDS);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next() || rs.getInt(1) != 1) {
          throw new SQLException(
              "waited " + LOCK_TIMEOUT_SECONDS + " s for the migration lock of " + table, "55P03");
        }
      }
    }
  }

  @Override
  void unlockForMigration(Connection c, OutboxTable table) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT RELEASE_LOCK(?)")) {
      ps.setString(1, lockName(table));
      ps.executeQuery().close();
    }
  }

  @Override
  List<String> drop(Connection c, OutboxTable table) throws SQLException {
    List<String> dropped = new ArrayList<>();
    String schema = flywaySchema(table);
    try (Statement s = c.createStatement()) {
      for (String name : List.of(table.table(), table.historyTable())) {
        if (exists(c, schema, name)) {
          String q = prefix(table) + quote(name);
          s.execute("DROP TABLE " + q);
          dropped.add("table " + q);
        }
      }
    }
    return dropped;
  }

  private static boolean exists(Connection c, String schema, String name) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT count(*) FROM information_schema.tables"
                + " WHERE table_schema = coalesce(?, DATABASE()) AND table_name = ?")) {
      ps.setString(1, schema);
      ps.setString(2, name);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1) > 0;
      }
    }
  }

  @Override
  String columns() {
    return "id, event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
        + " payload, traceparent, tracestate, created_at";
  }

  @Override
  int relayIsolation() {
    return Connection.TRANSACTION_READ_COMMITTED;
  }

  @Override
  void beforeClaim(Connection c) {}

  @Override
  void claim(Connection c, OutboxTable table, int limit, RowReader rowReader) throws SQLException {
    String t = qualified(table);
    StringJoiner ids = new StringJoiner(",", "(", ")");
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT "
                + columns()
                + " FROM "
                + t
                + " WHERE relayed_at IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED")) {
      ps.setInt(1, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(Long.toString(rs.getLong(1)));
          rowReader.read(rs);
        }
      }
    }
    if (ids.length() > 2) {
      // Ids are longs read from the table: safe to put in the text; one statement whatever the
      // batch size.
      try (Statement s = c.createStatement()) {
        s.executeUpdate("UPDATE " + t + " SET relayed_at = UTC_TIMESTAMP(6) WHERE id IN " + ids);
      }
    }
  }

  @Override
  int deleteRelayedBefore(Connection c, OutboxTable table, Instant cutoff, int limit)
      throws SQLException {
    // Lock with SKIP LOCKED first, then delete by id. A plain DELETE ... WHERE relayed_at < ?
    // may scan the whole table (the optimizer's choice on a small one), and unlike an UPDATE (which
    // reads semi-consistently at READ COMMITTED) a DELETE's scan waits for every row it meets that
    // another transaction holds: a producer's insert not yet committed stalled the clean-up, and
    // the relay loop with it, for innodb_lock_wait_timeout (50 s).
    boolean autoCommit = c.getAutoCommit();
    if (autoCommit) {
      c.setAutoCommit(false);
    }
    try {
      String t = qualified(table);
      List<Long> ids = new ArrayList<>();
      try (PreparedStatement ps =
          c.prepareStatement(
              "SELECT id FROM "
                  + t
                  + " WHERE relayed_at < ? AND relay_error IS NULL ORDER BY relayed_at LIMIT ?"
                  + " FOR UPDATE SKIP LOCKED")) {
        setInstant(ps, 1, cutoff);
        ps.setInt(2, limit);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            ids.add(rs.getLong(1));
          }
        }
      }
      int deleted = 0;
      if (!ids.isEmpty()) {
        // One primary-key equality per row, never "id IN (...)": on a small table the optimizer
        // runs that as a full scan, and the DELETE's scan waits for the open producer's row.
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + t + " WHERE id = ?")) {
          for (long id : ids) {
            ps.setLong(1, id);
            ps.addBatch();
          }
          for (int n : ps.executeBatch()) {
            deleted += Math.max(n, 0);
          }
        }
      }
      c.commit();
      return deleted;
    } catch (SQLException | RuntimeException ex) {
      try {
        c.rollback();
      } catch (SQLException suppressed) {
        ex.addSuppressed(suppressed);
      }
      throw ex;
    } finally {
      if (autoCommit) {
        c.setAutoCommit(true);
      }
    }
  }

  @Override
  String insert(OutboxTable table) {
    return "INSERT INTO "
        + qualified(table)
        + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,"
        + " event_type, payload, traceparent, tracestate)"
        + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
  }

  @Override
  void setUuid(PreparedStatement ps, int index, UUID value) throws SQLException {
    ps.setString(index, value == null ? null : value.toString());
  }

  @Override
  UUID getUuid(ResultSet rs, int index) throws SQLException {
    String s = rs.getString(index);
    if (s == null) {
      return null;
    }
    try {
      return UUID.fromString(s);
    } catch (IllegalArgumentException ex) {
      return null; // the row is quarantined as having no valid event id
    }
  }

  @Override
  void setInstant(PreparedStatement ps, int index, Instant value) throws SQLException {
    ps.setObject(index, LocalDateTime.ofInstant(value, ZoneOffset.UTC));
  }

  @Override
  Instant getInstant(ResultSet rs, int index) throws SQLException {
    LocalDateTime t = rs.getObject(index, LocalDateTime.class);
    return t == null ? null : t.toInstant(ZoneOffset.UTC);
  }
}
