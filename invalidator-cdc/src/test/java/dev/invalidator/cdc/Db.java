package dev.invalidator.cdc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.testing.TestServers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The test database: one pool per JVM, outbox tables with random names (so slots, publications and
 * offsets derived from them are unique per test, and concurrent runs never collide).
 */
final class Db {
  private static HikariDataSource dataSource;

  private Db() {}

  static String url() {
    return TestServers.postgresUrl();
  }

  static synchronized DataSource dataSource() {
    if (dataSource == null) {
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(url());
      config.setMaximumPoolSize(8);
      config.setPoolName("cdc-tests");
      dataSource = new HikariDataSource(config);
      Runtime.getRuntime().addShutdownHook(new Thread(dataSource::close, "cdc-tests-pool"));
    }
    return dataSource;
  }

  static String randomName(String prefix) {
    return prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /** A new, migrated outbox table in {@code public}. */
  static OutboxTable newOutbox() {
    OutboxTable table = OutboxTable.of("public", randomName("cdc_"));
    OutboxSchema.migrate(dataSource(), table);
    return table;
  }

  /** Drops the table and everything its migrations and the relay created in the schema. */
  static void drop(OutboxTable table) {
    String schema = '"' + table.schema() + '"';
    execute(
        "DROP TABLE IF EXISTS " + table.qualified() + " CASCADE",
        "DROP TABLE IF EXISTS " + schema + ".\"" + table.historyTable() + '"',
        "DROP TABLE IF EXISTS " + schema + ".\"" + table.table() + "_cdc_offsets\"",
        "DROP FUNCTION IF EXISTS " + schema + ".\"" + table.table() + "_wakeup\" CASCADE");
  }

  /** Events written in one transaction through the production writer; returns their ids. */
  static List<UUID> writeInOneTransaction(OutboxTable table, List<InvalidationEvent> events) {
    try (Connection c = dataSource().getConnection()) {
      c.setAutoCommit(false);
      OutboxWriter.create(table).appendAll(c, events);
      c.commit();
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
    return events.stream().map(InvalidationEvent::eventId).toList();
  }

  static InvalidationEvent event(String id, long version) {
    return InvalidationEvent.builder()
        .tenant("acme")
        .aggregate("order", id)
        .version(version)
        .build();
  }

  static List<InvalidationEvent> events(int n) {
    List<InvalidationEvent> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(event(Integer.toString(i), i + 1));
    }
    return out;
  }

  static void execute(String... statements) {
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement()) {
      for (String sql : statements) {
        s.execute(sql);
      }
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }

  static long queryLong(String sql) {
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }

  static List<String> queryStrings(String sql) {
    List<String> out = new ArrayList<>();
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      while (rs.next()) {
        out.add(rs.getString(1));
      }
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
    return out;
  }

  static boolean slotExists(String slot) {
    try (Connection c = dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM pg_replication_slots WHERE slot_name = ?")) {
      ps.setString(1, slot);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1) > 0;
      }
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }
}
