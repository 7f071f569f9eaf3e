package dev.invalidator.server.observe;

import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.outbox.OutboxTable;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.models.stream.PendingMessage;
import io.lettuce.core.models.stream.PendingMessages;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Per tenant, the commit time of its oldest event not yet applied to every target: the input of
 * {@code invalidator_tenant_staleness_seconds}.
 *
 * <p>Design notes. An event is not yet applied while its outbox row is unrelayed, or its stream
 * entry is pending in the consumer group (delivered, not acknowledged: the worker acknowledges only
 * after every target applied it), or not yet delivered (after the group's last-delivered id). So
 * the reading is two queries, in this order:
 *
 * <ol>
 *   <li>{@code SELECT tenant_id, min(created_at) ... WHERE relayed_at IS NULL GROUP BY tenant_id};
 *   <li>the stream from its oldest unapplied entry: {@code XPENDING} (summary and the first {@link
 *       #SCAN_LIMIT} pending ids), {@code XINFO GROUPS} (last-delivered id), then {@code XRANGE}
 *       from the oldest pending id (or just after the last-delivered id) for at most {@link
 *       #SCAN_LIMIT} entries; an entry counts when its id is pending or after the last-delivered
 *       id, with its {@code committed_at_ms}.
 * </ol>
 *
 * The outbox comes first on purpose: a row relayed between the two queries is then seen in the
 * stream, whereas the other order could miss it in both. The result is per-tenant exact as long as
 * fewer than {@link #SCAN_LIMIT} entries are unapplied. Beyond that ({@link Result#truncated()}),
 * tenants whose oldest unapplied entry lies past the first {@link #SCAN_LIMIT} unapplied entries
 * are under-reported; the oldest entries are always scanned, so the maximum over all tenants (and
 * the {@code other} series, when it holds that maximum) stays right, and the queue-backlog alert
 * fires long before. Poison entries are skipped (they go to the dead letters).
 */
final class TenantStaleness {
  /** Most stream entries (and pending ids) read per sample. */
  static final int SCAN_LIMIT = 10_000;

  /**
   * @param oldestUnapplied per tenant, the commit time of its oldest unapplied event
   * @param truncated true when the stream scan hit {@link #SCAN_LIMIT}
   */
  record Result(Map<String, Instant> oldestUnapplied, boolean truncated) {}

  private final DataSource dataSource;
  private final String outboxSql;
  private final StatefulRedisConnection<String, String> redis;
  private final String stream;
  private final String group;

  TenantStaleness(
      DataSource dataSource,
      OutboxTable table,
      StatefulRedisConnection<String, String> redis,
      String stream,
      String group) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.outboxSql =
        "SELECT tenant_id, min(created_at) FROM "
            + table.qualified()
            + " WHERE relayed_at IS NULL GROUP BY tenant_id";
    this.redis = Objects.requireNonNull(redis, "redis");
    this.stream = Objects.requireNonNull(stream, "stream");
    this.group = Objects.requireNonNull(group, "group");
  }

  /** Reads both sources; throws when either query failed. */
  Result read() throws SQLException {
    Map<String, Instant> oldest = new HashMap<>();
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(outboxSql)) {
      while (rs.next()) {
        merge(oldest, rs.getString(1), rs.getObject(2, OffsetDateTime.class).toInstant());
      }
    }
    boolean truncated = scanStream(oldest);
    return new Result(oldest, truncated);
  }

  private boolean scanStream(Map<String, Instant> oldest) {
    RedisCommands<String, String> r = redis.sync();
    if (r.exists(stream) == 0) {
      return false;
    }
    String lastDelivered = lastDeliveredId(r);
    Set<String> pendingIds = new HashSet<>();
    String start;
    PendingMessages summary = lastDelivered == null ? null : r.xpending(stream, group);
    if (summary != null && summary.getCount() > 0) {
      List<PendingMessage> pending =
          r.xpending(stream, group, Range.create("-", "+"), Limit.from(SCAN_LIMIT));
      pending.forEach(p -> pendingIds.add(p.getId()));
      start = summary.getMessageIds().getLower().getValue();
    } else {
      start = lastDelivered == null ? "-" : "(" + lastDelivered;
    }
    List<StreamMessage<String, String>> entries =
        r.xrange(stream, Range.create(start, "+"), Limit.from(SCAN_LIMIT));
    for (StreamMessage<String, String> m : entries) {
      boolean unapplied =
          pendingIds.contains(m.getId())
              || lastDelivered == null
              || compareIds(m.getId(), lastDelivered) > 0;
      if (!unapplied) {
        continue;
      }
      Map<String, String> fields = m.getBody();
      Instant committed = StreamEntry.committedAt(fields);
      if (committed == null) {
        committed = StreamEntry.publishedAt(fields);
      }
      if (committed == null) {
        continue;
      }
      try {
        merge(oldest, StreamEntry.event(fields).tenantId(), committed);
      } catch (InvalidEventException ex) {
        // poison: it goes to the dead letters, it is not an unapplied event of any tenant
      }
    }
    return entries.size() >= SCAN_LIMIT;
  }

  /** The group's last-delivered id, or null when the group does not exist (nothing delivered). */
  private String lastDeliveredId(RedisCommands<String, String> r) {
    for (Object g : r.xinfoGroups(stream)) {
      Map<String, Object> info = new HashMap<>();
      if (g instanceof Map<?, ?> map) {
        map.forEach((k, v) -> info.put(String.valueOf(k), v));
      } else if (g instanceof List<?> list) {
        for (int i = 0; i + 1 < list.size(); i += 2) {
          info.put(String.valueOf(list.get(i)), list.get(i + 1));
        }
      }
      if (group.equals(String.valueOf(info.get("name")))) {
        return String.valueOf(info.get("last-delivered-id"));
      }
    }
    return null;
  }

  private static void merge(Map<String, Instant> oldest, String tenant, Instant at) {
    oldest.merge(tenant, at, (a, b) -> a.isBefore(b) ? a : b);
  }

  /** Compares stream ids {@code ms-seq} numerically. */
  static int compareIds(String a, String b) {
    long[] x = parse(a);
    long[] y = parse(b);
    int c = Long.compare(x[0], y[0]);
    return c != 0 ? c : Long.compare(x[1], y[1]);
  }

  private static long[] parse(String id) {
    int dash = id.indexOf('-');
    if (dash < 0) {
      return new long[] {Long.parseUnsignedLong(id), 0};
    }
    return new long[] {
      Long.parseUnsignedLong(id.substring(0, dash)), Long.parseUnsignedLong(id.substring(dash + 1))
    };
  }
}
