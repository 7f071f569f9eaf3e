package dev.invalidator.outbox;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidEventException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-publishes relayed outbox rows that are still inside the retention window: the repair path
 * after Redis lost stream entries (a restart without persistence, a failover to a replica that
 * lagged). Rows are selected by {@code relayed_at} in {@code [since, until)}, optionally for one
 * tenant, skipping quarantined rows, and published in id order in batches (keyset pagination on the
 * primary key, so a long replay never holds a transaction open). Replayed events are duplicates of
 * what targets may already have applied: harmless (G4).
 */
public final class OutboxReplay {
  private static final Logger log = LoggerFactory.getLogger(OutboxReplay.class);

  /** Progress after each batch. */
  public interface Progress {
    void batch(long done, long total);
  }

  private final DataSource dataSource;
  private final OutboxTable table;
  private volatile OutboxDialect dialect;

  public OutboxReplay(DataSource dataSource, OutboxTable table) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.table = Objects.requireNonNull(table, "table");
  }

  private OutboxDialect dialect(Connection c) throws SQLException {
    OutboxDialect d = dialect;
    if (d == null) {
      d = OutboxDialect.of(c);
      dialect = d;
    }
    return d;
  }

  private String where(String tenant) {
    return " WHERE relayed_at >= ? AND relayed_at < ? AND relay_error IS NULL"
        + (tenant == null ? "" : " AND tenant_id = ?");
  }

  private static int bind(
      PreparedStatement ps, OutboxDialect d, Instant since, Instant until, String tenant)
      throws SQLException {
    d.setInstant(ps, 1, since);
    d.setInstant(ps, 2, until);
    int i = 3;
    if (tenant != null) {
      ps.setString(i++, tenant);
    }
    return i;
  }

  private String selectSql(OutboxDialect d, String tenant) {
    return "SELECT "
        + d.columns()
        + " FROM "
        + d.qualified(table)
        + where(tenant)
        + " AND id > ? ORDER BY id LIMIT ?";
  }

  /** How many rows a replay of this window would publish. */
  public long count(Instant since, Instant until, String tenant) {
    try (Connection c = dataSource.getConnection()) {
      OutboxDialect d = dialect(c);
      String sql = "SELECT count(*) FROM " + d.qualified(table) + where(tenant);
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        bind(ps, d, since, until, tenant);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          return rs.getLong(1);
        }
      }
    } catch (SQLException ex) {
      throw SqlErrors.translate("counting rows to replay in " + table, ex);
    }
  }

  /**
   * Publishes every row of the window through {@code publisher}, {@code batchSize} at a time.
   * Returns the number of rows published.
   */
  public long replay(
      Instant since,
      Instant until,
      String tenant,
      EventPublisher publisher,
      int batchSize,
      Progress progress) {
    long total = count(since, until, tenant);
    long done = 0;
    long lastId = 0;
    while (true) {
      List<EventPublisher.Outgoing> batch = new ArrayList<>();
      try (Connection c = dataSource.getConnection();
          PreparedStatement ps = c.prepareStatement(selectSql(dialect(c), tenant))) {
        OutboxDialect d = dialect(c);
        int i = bind(ps, d, since, until, tenant);
        ps.setLong(i++, lastId);
        ps.setInt(i, batchSize);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            lastId = rs.getLong(1);
            try {
              batch.add(new EventPublisher.Outgoing(lastId, OutboxRows.toEvent(rs, table, d)));
            } catch (InvalidEventException ex) {
              log.warn("outbox {} row {} skipped in replay: {}", table, lastId, ex.getMessage());
            }
          }
        }
      } catch (SQLException ex) {
        throw SqlErrors.translate("reading rows to replay from " + table, ex);
      }
      if (batch.isEmpty()) {
        return done;
      }
      publisher.publish(batch);
      done += batch.size();
      progress.batch(done, Math.max(total, done));
    }
  }
}
