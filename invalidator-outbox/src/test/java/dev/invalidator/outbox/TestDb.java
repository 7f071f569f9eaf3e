package dev.invalidator.outbox;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.testing.TestServers;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Assumptions;

/**
 * A database the outbox suite runs against: PostgreSQL ({@link TestServers#postgresUrl()}) or
 * MariaDB/MySQL ({@link TestServers#mysqlUrl()}). One pool per database and JVM; outbox tables with
 * random names, so that tests of this and other modules running at the same time against the same
 * database never collide. The few SQL snippets tests write by hand that differ between the two are
 * methods here.
 */
abstract class TestDb {
  private static TestDb postgres;
  private static TestDb mysql;

  private HikariDataSource dataSource;

  static synchronized TestDb postgres() {
    if (postgres == null) {
      postgres = new PostgresDb();
    }
    return postgres;
  }

  /**
   * The MariaDB/MySQL test database; aborts the calling test (skipped, with the reason) when there
   * is none, which {@link TestServers#mysqlUrl()} allows only outside CI.
   */
  static synchronized TestDb mysql() {
    String url = TestServers.mysqlUrl();
    if (url == null) {
      System.err.println("SKIPPED MySQL/MariaDB outbox tests: " + TestServers.mysqlMissing());
    }
    Assumptions.assumeTrue(url != null, () -> "no MySQL/MariaDB: " + TestServers.mysqlMissing());
    if (mysql == null) {
      mysql = new MySqlDb();
    }
    return mysql;
  }

  abstract String url();

  abstract OutboxDialect dialect();

  /** An SQL expression for a new random UUID. */
  abstract String newUuid();

  /** An SQL expression for the current time, as the table's defaults store it. */
  abstract String now();

  /** An SQL expression for {@code expr} minus {@code seconds}. */
  abstract String minusSeconds(String expr, long seconds);

  synchronized DataSource dataSource() {
    if (dataSource == null) {
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(url());
      config.setMaximumPoolSize(24);
      config.setPoolName("outbox-tests-" + dialect());
      dataSource = new HikariDataSource(config);
      HikariDataSource ds = dataSource;
      Runtime.getRuntime().addShutdownHook(new Thread(ds::close, "outbox-tests-pool"));
    }
    return dataSource;
  }

  /** The quoted qualified name of {@code table} in this database. */
  String q(OutboxTable table) {
    return dialect().qualified(table);
  }

  /** A fresh random name, unique across concurrent test runs. */
  static String randomName(String prefix) {
    return prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  /** A new outbox table in the default schema, migrated. */
  OutboxTable newOutbox() {
    OutboxTable table = OutboxTable.of("public", randomName("outbox_"));
    OutboxSchema.migrate(dataSource(), table);
    return table;
  }

  /** Drops an outbox table and everything its migrations created. */
  void drop(OutboxTable table) {
    OutboxSchema.drop(dataSource(), table);
  }

  void execute(String... statements) {
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement()) {
      for (String sql : statements) {
        s.execute(sql);
      }
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }

  long queryLong(String sql) {
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement();
        var rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }

  String queryString(String sql) {
    try (Connection c = dataSource().getConnection();
        Statement s = c.createStatement();
        var rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }

  @Override
  public String toString() {
    return dialect().name();
  }

  private static final class PostgresDb extends TestDb {
    @Override
    String url() {
      return TestServers.postgresUrl();
    }

    @Override
    OutboxDialect dialect() {
      return OutboxDialect.POSTGRESQL;
    }

    @Override
    String newUuid() {
      return "gen_random_uuid()";
    }

    @Override
    String now() {
      return "clock_timestamp()";
    }

    @Override
    String minusSeconds(String expr, long seconds) {
      return expr + " - interval '" + seconds + " seconds'";
    }
  }

  private static final class MySqlDb extends TestDb {
    @Override
    String url() {
      return TestServers.mysqlUrl();
    }

    @Override
    OutboxDialect dialect() {
      return OutboxDialect.MYSQL;
    }

    @Override
    String newUuid() {
      return "uuid()";
    }

    @Override
    String now() {
      return "UTC_TIMESTAMP(6)";
    }

    @Override
    String minusSeconds(String expr, long seconds) {
      return expr + " - INTERVAL " + seconds + " SECOND";
    }
  }
}
