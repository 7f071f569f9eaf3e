package dev.invalidator.outbox;

import javax.sql.DataSource;

/** The PostgreSQL {@link TestDb}, for the tests of what only PostgreSQL has. */
final class Postgres {
  private Postgres() {}

  static DataSource dataSource() {
    return TestDb.postgres().dataSource();
  }

  static String randomName(String prefix) {
    return TestDb.randomName(prefix);
  }

  static OutboxTable newOutbox() {
    return TestDb.postgres().newOutbox();
  }

  static void drop(OutboxTable table) {
    TestDb.postgres().drop(table);
  }

  static void execute(String... statements) {
    TestDb.postgres().execute(statements);
  }

  static long queryLong(String sql) {
    return TestDb.postgres().queryLong(sql);
  }

  static String queryString(String sql) {
    return TestDb.postgres().queryString(sql);
  }
}
