package dev.invalidator.outbox;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.testing.TestServers;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The test database: one pool per JVM, and outbox tables with random names, so that tests of this
 * and other modules running at the same time against the same database never collide.
 */
final class Postgres {
  private static HikariDataSource dataSource;

  private Postgres() {}

  static synchronized DataSource dataSource() {
    if (dataSource == null) {
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(TestServers.postgresUrl());
      config.setMaximumPoolSize(24);
      config.setPoolName("outbox-tests");
      dataSource = new HikariDataSource(config);
      Runtime.getRuntime().addShutdownHook(new Thread(dataSource::close, "outbox-tests-pool"));
    }
    return dataSource;
  }

  /** A fresh random name, unique across concurrent test runs. */
  static String randomName(String prefix) {
    return prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /** A new outbox table in {@code public}, migrated. */
  static OutboxTable newOutbox() {
    OutboxTable table = OutboxTable.of("public", randomName("outbox_"));
    OutboxSchema.migrate(dataSource(), table);
    return table;
  }

  /** Drops an outbox table and everything its migrations created. */
  static void drop(OutboxTable table) {
    String schema = OutboxTable.quote(table.schema());
    execute(
        "DROP TABLE IF EXISTS " + table.qualified() + " CASCADE",
        "DROP TABLE IF EXISTS " + schema + "." + OutboxTable.quote(table.historyTable()),
        "DROP FUNCTION IF EXISTS "
            + schema
            + "."
            + OutboxTable.quote(table.table() + "_wakeup")
            + " CASCADE");
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
        var rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }

  static String queryString(String sql) {
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement();
        var rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }
}
