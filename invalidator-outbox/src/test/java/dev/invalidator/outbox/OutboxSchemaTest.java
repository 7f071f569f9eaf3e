package dev.invalidator.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class OutboxSchemaTest {
  private final DataSource ds = Postgres.dataSource();
  private final List<Runnable> cleanups = new ArrayList<>();

  @AfterEach
  void dropEverything() {
    cleanups.forEach(Runnable::run);
  }

  private OutboxTable track(OutboxTable t) {
    cleanups.add(0, () -> Postgres.drop(t));
    return t;
  }

  @Test
  void migrationCreatesTheDesignTable() throws SQLException {
    OutboxTable t = track(OutboxTable.of("public", Postgres.randomName("outbox_")));

    assertThat(OutboxSchema.migrate(ds, t))
        .containsExactly(
            "1 outbox",
            "2 relay error",
            "3 wakeup without serialising commits",
            "4 vacuum like a queue");
    // A queue table: vacuumed after every 10,000 dead rows, its indexes always cleaned.
    assertThat(
            Postgres.queryString(
                "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = '"
                    + t.qualified().replace("'", "''")
                    + "'::regclass"))
        .contains("autovacuum_vacuum_scale_factor=0")
        .contains("autovacuum_vacuum_threshold=10000")
        .contains("vacuum_index_cleanup=on");

    assertThat(columns(t))
        .containsExactly(
            Map.entry("id", "bigint NOT NULL"),
            Map.entry("event_id", "uuid NOT NULL"),
            Map.entry("tenant_id", "text NOT NULL"),
            Map.entry("aggregate_type", "text NOT NULL"),
            Map.entry("aggregate_id", "text NOT NULL"),
            Map.entry("aggregate_version", "bigint NOT NULL"),
            Map.entry("event_type", "text NOT NULL"),
            Map.entry("payload", "jsonb NOT NULL"),
            Map.entry("traceparent", "text NULL"),
            Map.entry("tracestate", "text NULL"),
            Map.entry("created_at", "timestamp with time zone NOT NULL"),
            Map.entry("relayed_at", "timestamp with time zone NULL"),
            Map.entry("relay_error", "text NULL"));
    assertThat(
            queryString(
                t,
                "SELECT is_identity || identity_generation FROM"
                    + " information_schema.columns WHERE table_schema = ? AND table_name = ?"
                    + " AND column_name = 'id'"))
        .isEqualTo("YESALWAYS");
    assertThat(
            queryString(
                t,
                "SELECT column_default FROM information_schema.columns"
                    + " WHERE table_schema = ? AND table_name = ? AND column_name = 'created_at'"))
        .isEqualTo("clock_timestamp()");
    assertThat(
            queryString(
                t,
                "SELECT column_default FROM information_schema.columns"
                    + " WHERE table_schema = ? AND table_name = ? AND column_name = 'payload'"))
        .isEqualTo("'{}'::jsonb");

    List<String> indexes =
        queryStrings(t, "SELECT indexdef FROM pg_indexes WHERE schemaname = ? AND tablename = ?");
    assertThat(indexes)
        .anySatisfy(d -> assertThat(d).contains("UNIQUE").contains("(event_id)"))
        .anySatisfy(d -> assertThat(d).contains("(id) WHERE (relayed_at IS NULL)"))
        .anySatisfy(d -> assertThat(d).contains("(relayed_at) WHERE (relayed_at IS NOT NULL)"));

    List<String> triggers =
        queryStrings(
            t,
            "SELECT action_timing || ' ' || event_manipulation || ' ' || action_orientation"
                + " FROM information_schema.triggers"
                + " WHERE event_object_schema = ? AND event_object_table = ?");
    assertThat(triggers).containsExactly("AFTER INSERT ROW");
  }

  @Test
  void migratingTwiceAppliesNothingTheSecondTime() {
    OutboxTable t = track(OutboxTable.of("public", Postgres.randomName("outbox_")));
    assertThat(OutboxSchema.migrate(ds, t)).hasSize(4);
    assertThat(OutboxSchema.migrate(ds, t)).isEmpty();
  }

  @Test
  void customSchemaAndTableWorkAndCoexistWithAnotherOutbox() {
    String schema = Postgres.randomName("inv_");
    cleanups.add(() -> Postgres.execute("DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE"));
    OutboxTable custom = track(OutboxTable.of(schema, "events"));
    OutboxTable second = track(OutboxTable.of(schema, "events_b"));

    assertThat(OutboxSchema.migrate(ds, custom)).contains("1 outbox");
    assertThat(OutboxSchema.migrate(ds, second)).contains("1 outbox");

    Postgres.execute(
        "INSERT INTO "
            + custom.qualified()
            + " (event_id, tenant_id, aggregate_type,"
            + " aggregate_id, aggregate_version, event_type)"
            + " VALUES (gen_random_uuid(), 't', 'order', '1', 1, 'changed')");
    assertThat(Postgres.queryLong("SELECT count(*) FROM " + custom.qualified())).isEqualTo(1);
    assertThat(Postgres.queryLong("SELECT count(*) FROM " + second.qualified())).isZero();
  }

  @Test
  void concurrentMigrationsOfOneTableAllSucceedAndApplyOnce() throws Exception {
    int migrators = 3;
    ExecutorService pool = Executors.newFixedThreadPool(migrators);
    try {
      for (int round = 0; round < 5; round++) {
        OutboxTable t = track(OutboxTable.of("public", Postgres.randomName("outbox_")));
        CyclicBarrier start = new CyclicBarrier(migrators);
        Callable<List<String>> migrate =
            () -> {
              start.await(10, TimeUnit.SECONDS);
              return OutboxSchema.migrate(ds, t);
            };
        List<Future<List<String>>> futures = new ArrayList<>();
        for (int i = 0; i < migrators; i++) {
          futures.add(pool.submit(migrate));
        }
        List<String> applied = new ArrayList<>();
        for (Future<List<String>> f : futures) {
          applied.addAll(f.get(60, TimeUnit.SECONDS));
        }
        assertThat(applied)
            .containsExactlyInAnyOrder(
                "1 outbox",
                "2 relay error",
                "3 wakeup without serialising commits",
                "4 vacuum like a queue");
      }
    } finally {
      pool.shutdownNow();
      assertThat(pool.awaitTermination(60, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void checkConstraintsRefuseRowsThatCanNeverBeValidEvents() {
    OutboxTable t = track(OutboxTable.of("public", Postgres.randomName("outbox_")));
    OutboxSchema.migrate(ds, t);
    String insert =
        "INSERT INTO "
            + t.qualified()
            + " (event_id, tenant_id, aggregate_type, aggregate_id,"
            + " aggregate_version, event_type, payload) VALUES (gen_random_uuid(), ";
    for (String values :
        List.of(
            "'', 'order', '1', 1, 'changed', '{}')",
            "'" + "t".repeat(65) + "', 'order', '1', 1, 'changed', '{}')",
            "'t', '', '1', 1, 'changed', '{}')",
            "'t', 'order', '', 1, 'changed', '{}')",
            "'t', 'order', '1', -1, 'changed', '{}')",
            "'t', 'order', '1', 1, '', '{}')",
            "'t', 'order', '1', 1, 'changed', '[1]')")) {
      assertThatThrownBy(() -> Postgres.execute(insert + values))
          .hasRootCauseInstanceOf(SQLException.class)
          .rootCause()
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("23514"));
    }
    assertThat(Postgres.queryLong("SELECT count(*) FROM " + t.qualified())).isZero();
  }

  private Map<String, String> columns(OutboxTable t) throws SQLException {
    Map<String, String> out = new LinkedHashMap<>();
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
                    + " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position")) {
      ps.setString(1, t.schema());
      ps.setString(2, t.table());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(
              rs.getString(1),
              rs.getString(2) + (rs.getString(3).equals("YES") ? " NULL" : " NOT NULL"));
        }
      }
    }
    return out;
  }

  private String queryString(OutboxTable t, String sql) throws SQLException {
    List<String> all = queryStrings(t, sql);
    assertThat(all).hasSize(1);
    return all.get(0);
  }

  private List<String> queryStrings(OutboxTable t, String sql) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Connection c = ds.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, t.schema());
      ps.setString(2, t.table());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    }
    return out;
  }
}
