package dev.invalidator.outbox;

import org.junit.jupiter.api.BeforeAll;

/**
 * {@link OutboxWriterTest} on MariaDB/MySQL ({@code INVALIDATOR_TEST_MYSQL_URL} or embedded
 * MariaDB).
 */
class MySqlOutboxWriterTest extends OutboxWriterTest {
  @BeforeAll
  static void requireMySql() {
    TestDb.mysql();
  }

  @Override
  TestDb db() {
    return TestDb.mysql();
  }
}
