package dev.invalidator.server.observe;

import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisConnection;
import dev.invalidator.redis.StreamBacklog;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * Per tenant, the commit time of its oldest event not yet applied to every target: the input of
 * {@code invalidator_tenant_staleness_seconds}.
 *
 * <p>An event is not yet applied while its outbox row is unrelayed ({@link
 * OutboxStats#oldestUnrelayedByTenant}) or its stream entry is unapplied by the consumer group
 * ({@link StreamBacklog}). The outbox is read first on purpose: a row relayed between the two reads
 * is then seen in the stream, whereas the other order could miss it in both. The result is
 * per-tenant exact while fewer than {@link StreamBacklog#SCAN_LIMIT} entries are unapplied; beyond
 * that ({@link Result#truncated()}), tenants whose oldest unapplied entry lies past the scanned
 * ones are under-reported, while the maximum over all tenants (and the {@code other} series, when
 * it holds that maximum) stays right, and the queue-backlog alert fires long before.
 */
final class TenantStaleness {
  /**
   * @param oldestUnapplied per tenant, the commit time of its oldest unapplied event
   * @param truncated true when the stream scan hit {@link StreamBacklog#SCAN_LIMIT}
   */
  record Result(Map<String, Instant> oldestUnapplied, boolean truncated) {}

  private final DataSource dataSource;
  private final OutboxTable table;
  private final StreamBacklog backlog;

  TenantStaleness(
      DataSource dataSource,
      OutboxTable table,
      RedisConnection<String, String> redis,
      String stream,
      String group) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.table = Objects.requireNonNull(table, "table");
    this.backlog = redis == null ? null : new StreamBacklog(redis, stream, group);
  }

  /** Reads both sources; throws when either read failed. */
  Result read() {
    Map<String, Instant> oldest =
        new HashMap<>(OutboxStats.oldestUnrelayedByTenant(dataSource, table));
    boolean truncated = backlog != null && backlog.oldestUnappliedByTenant(oldest);
    return new Result(oldest, truncated);
  }
}
