package dev.invalidator.outbox;

import org.junit.jupiter.api.BeforeAll;

/**
 * {@link CommitOrderTest} on MariaDB/MySQL ({@code INVALIDATOR_TEST_MYSQL_URL} or embedded
 * MariaDB).
 */
class MySqlCommitOrderTest extends CommitOrderTest {
  @BeforeAll
  static void requireMySql() {
    TestDb.mysql();
  }

  @Override
  TestDb db() {
    return TestDb.mysql();
  }
}
