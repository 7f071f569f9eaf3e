package dev.invalidator.redis;

import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.StreamEntry;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.models.stream.PendingMessage;
import io.lettuce.core.models.stream.PendingMessages;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What a consumer group has not applied yet, per tenant: the stream half of the daemon's {@code
 * invalidator_tenant_staleness_seconds} (the outbox half is {@code
 * OutboxStats.oldestUnrelayedByTenant}).
 *
 * <p>An entry is unapplied while it is pending in the group (delivered, not acknowledged: workers
 * acknowledge only after every target applied it) or not yet delivered (after the group's
 * last-delivered id). The scan reads {@code XPENDING} (summary and the first {@link #SCAN_LIMIT}
 * pending ids), {@code XINFO GROUPS} (the last-delivered id), then {@code XRANGE} from the oldest
 * pending id (or just after the last-delivered id) for at most {@link #SCAN_LIMIT} entries, and
 * takes each unapplied entry's {@code committed_at_ms}. The oldest entries are always read, so the
 * maximum over all tenants stays right when the scan is truncated. Poison entries are skipped (they
 * go to the dead letters).
 */
public final class StreamBacklog {
  /** Most stream entries (and pending ids) read per scan. */
  public static final int SCAN_LIMIT = 10_000;

  private final RedisConnection<String, String> redis;
  private final String stream;
  private final String group;

  public StreamBacklog(RedisConnection<String, String> redis, String stream, String group) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.stream = Objects.requireNonNull(stream, "stream");
    this.group = Objects.requireNonNull(group, "group");
  }

  /** Like {@link #StreamBacklog(RedisConnection, String, String)}, on a standalone connection. */
  public StreamBacklog(StatefulRedisConnection<String, String> redis, String stream, String group) {
    this(RedisConnection.of(redis), stream, group);
  }

  /**
   * Adds, per tenant, the commit time of its oldest entry in {@code stream} that {@code group} has
   * not applied (pending, or not yet delivered) to {@code oldest}, keeping the earlier of the two
   * where a tenant is present already; returns true when the scan hit {@link #SCAN_LIMIT} and later
   * entries were not read.
   */
  public boolean oldestUnappliedByTenant(Map<String, Instant> oldest) {
    RedisClusterCommands<String, String> r = redis.sync();
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
  private String lastDeliveredId(RedisClusterCommands<String, String> r) {
    Map<String, Object> info = XInfo.group(r, stream, group);
    return info.isEmpty() ? null : String.valueOf(info.get("last-delivered-id"));
  }

  private static void merge(Map<String, Instant> oldest, String tenant, Instant at) {
    oldest.merge(tenant, at, (a, b) -> a.isBefore(b) ? a : b);
  }

  /** Compares stream ids {@code ms-seq} numerically. */
  public static int compareIds(String a, String b) {
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
