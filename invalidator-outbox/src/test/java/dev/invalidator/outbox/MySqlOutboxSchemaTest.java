package dev.invalidator.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The MySQL/MariaDB migration: idempotent, safe to run concurrently, refusing impossible rows. */
class MySqlOutboxSchemaTest {
  private final TestDb db = TestDb.mysql();
  private final OutboxTable table = OutboxTable.of("public", TestDb.randomName("outbox_"));

  @BeforeAll
  static void requireMySql() {
    TestDb.mysql();
  }

  @AfterEach
  void tearDown() {
    db.drop(table);
  }

  @Test
  void migratingTwiceAppliesNothingTheSecondTime() {
    assertThat(OutboxSchema.migrate(db.dataSource(), table)).containsExactly("1 outbox");
    assertThat(OutboxSchema.migrate(db.dataSource(), table)).isEmpty();
    assertThat(OutboxSchema.drop(db.dataSource(), table))
        .containsExactly("table `" + table.table() + "`", "table `" + table.historyTable() + "`");
    assertThat(OutboxSchema.drop(db.dataSource(), table)).isEmpty();
  }

  @Test
  void concurrentMigrationsOfOneTableAllSucceedAndApplyOnce() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<List<String>>> runs = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        runs.add(pool.submit(() -> OutboxSchema.migrate(db.dataSource(), table)));
      }
      List<String> applied = new ArrayList<>();
      for (Future<List<String>> f : runs) {
        applied.addAll(f.get(60, TimeUnit.SECONDS));
      }
      assertThat(applied).containsExactly("1 outbox");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void checkConstraintsRefuseRowsThatCanNeverBeValidEvents() {
    OutboxSchema.migrate(db.dataSource(), table);
    String insert =
        "INSERT INTO "
            + db.q(table)
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
            + " payload) VALUES ";
    for (String values :
        List.of(
            "(UUID(), '', 'order', '1', 1, 'changed', '{}')",
            "(UUID(), 'acme', 'order', '1', -1, 'changed', '{}')",
            "(UUID(), 'acme', 'order', '1', 1, 'changed', '[1]')",
            "(UUID(), 'acme', 'order', '1', 1, 'changed', 'not json')",
            "('not-a-uuid', 'acme', 'order', '1', 1, 'changed', '{}')")) {
      assertThatThrownBy(() -> db.execute(insert + values)).as(values).isNotNull();
    }
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isZero();
    db.execute(insert + "(UUID(), 'acme', 'order', '1', 1, 'changed', '{\"views\":[\"s\"]}')");
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isEqualTo(1);
  }
}
