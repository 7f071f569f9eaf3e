package dev.invalidator.bench;

import dev.invalidator.outbox.OutboxTable;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * Committed outbox rows written in bulk (not measured), on PostgreSQL ({@code generate_series}) or
 * MySQL/MariaDB (multi-row {@code INSERT}s).
 */
final class OutboxBacklog {
  private static final int PG_CHUNK = 100_000;
  private static final int MYSQL_ROWS_PER_STATEMENT = 1_000;

  private OutboxBacklog() {}

  /** What row {@code g} holds. */
  enum Shape {
    /**
     * The relay-drain backlog: tenant {@code t<g%8>}, aggregate {@code account/a<g%100000>},
     * version {@code g}, type {@code changed}.
     */
    DRAIN,
    /**
     * One event per cache entry of {@link RedisFixtures#aggregate}{@code (g)}: tenant {@code
     * t<g%8>}, aggregate {@code account/a<g>}, version 1, type {@code account.updated}.
     */
    FIXTURE;

    String tenant(long g) {
      return "t" + (g % 8);
    }

    String aggregateId(long g) {
      return this == DRAIN ? "a" + (g % 100_000) : "a" + g;
    }

    long version(long g) {
      return this == DRAIN ? g : 1;
    }

    String eventType() {
      return this == DRAIN ? "changed" : "account.updated";
    }

    String pgSelect() {
      return this == DRAIN
          ? "SELECT gen_random_uuid(), 't' || (g % 8), 'account', 'a' || (g % 100000), g,"
              + " 'changed' FROM generate_series(?::bigint, ?) g"
          : "SELECT gen_random_uuid(), 't' || (g % 8), 'account', 'a' || g, 1,"
              + " 'account.updated' FROM generate_series(?::bigint, ?) g";
    }
  }

  /**
   * Inserts rows {@code first..first+count-1} of {@code shape}. With {@code oneTransaction} they
   * commit together (a relay running meanwhile sees none, then all); otherwise every chunk commits.
   *
   * @return {@link System#nanoTime()} just before the last commit
   */
  static long fill(
      BenchEnvironment env,
      OutboxTable outbox,
      long first,
      long count,
      Shape shape,
      boolean oneTransaction,
      PrintStream out)
      throws SQLException {
    try (Connection c = env.dataSource().getConnection()) {
      boolean auto = c.getAutoCommit();
      c.setAutoCommit(false);
      try {
        if (env.mysql()) {
          fillMysql(env, c, outbox, first, count, shape, oneTransaction, out);
        } else {
          fillPostgres(c, outbox, first, count, shape, oneTransaction, out);
        }
        long beforeCommit = System.nanoTime();
        c.commit();
        return beforeCommit;
      } catch (SQLException | RuntimeException ex) {
        c.rollback();
        throw ex;
      } finally {
        c.setAutoCommit(auto);
      }
    }
  }

  /** Refreshes the planner's statistics after a fill ({@code VACUUM ANALYZE}, {@code ANALYZE}). */
  static void analyze(BenchEnvironment env, OutboxTable outbox) throws SQLException {
    try (Connection c = env.dataSource().getConnection();
        Statement st = c.createStatement()) {
      if (env.mysql()) {
        st.execute("ANALYZE TABLE " + env.qualified(outbox));
      } else {
        c.setAutoCommit(true); // VACUUM refuses to run inside a transaction
        st.execute("VACUUM ANALYZE " + outbox.qualified());
      }
    }
  }

  private static void fillPostgres(
      Connection c,
      OutboxTable outbox,
      long first,
      long count,
      Shape shape,
      boolean oneTransaction,
      PrintStream out)
      throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "INSERT INTO "
                + outbox.qualified()
                + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,"
                + " event_type) "
                + shape.pgSelect())) {
      for (long done = 0; done < count; done += PG_CHUNK) {
        long n = Math.min(PG_CHUNK, count - done);
        ps.setLong(1, first + done);
        ps.setLong(2, first + done + n - 1);
        ps.executeUpdate();
        if (!oneTransaction) {
          c.commit();
        }
        if (count > PG_CHUNK) {
          out.printf("  ... backlog %,d of %,d%n", done + n, count);
        }
      }
    }
  }

  private static void fillMysql(
      BenchEnvironment env,
      Connection c,
      OutboxTable outbox,
      long first,
      long count,
      Shape shape,
      boolean oneTransaction,
      PrintStream out)
      throws SQLException {
    StringBuilder sql =
        new StringBuilder("INSERT INTO ")
            .append(env.qualified(outbox))
            .append(
                " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,"
                    + " event_type) VALUES ");
    for (int i = 0; i < MYSQL_ROWS_PER_STATEMENT; i++) {
      sql.append(i == 0 ? "" : ",").append("(?,?,'account',?,?,?)");
    }
    long reportEvery = 100_000;
    try (PreparedStatement full = c.prepareStatement(sql.toString())) {
      long done = 0;
      while (done < count) {
        int n = (int) Math.min(MYSQL_ROWS_PER_STATEMENT, count - done);
        PreparedStatement ps = full;
        if (n < MYSQL_ROWS_PER_STATEMENT) {
          String partial =
              sql.substring(0, sql.indexOf("VALUES ") + 7)
                  + String.join(",", java.util.Collections.nCopies(n, "(?,?,'account',?,?,?)"));
          ps = c.prepareStatement(partial);
        }
        try {
          int p = 1;
          for (int i = 0; i < n; i++) {
            long g = first + done + i;
            ps.setString(p++, UUID.randomUUID().toString());
            ps.setString(p++, shape.tenant(g));
            ps.setString(p++, shape.aggregateId(g));
            ps.setLong(p++, shape.version(g));
            ps.setString(p++, shape.eventType());
          }
          ps.executeUpdate();
        } finally {
          if (ps != full) {
            ps.close();
          }
        }
        done += n;
        if (!oneTransaction && done % 10_000 == 0) {
          c.commit();
        }
        if (count > reportEvery && done % reportEvery == 0) {
          out.printf("  ... backlog %,d of %,d%n", done, count);
        }
      }
    }
  }
}
