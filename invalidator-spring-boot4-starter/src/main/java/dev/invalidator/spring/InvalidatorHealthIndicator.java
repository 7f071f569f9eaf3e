package dev.invalidator.spring;

import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.StreamStats;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * Actuator health of the invalidation pipeline as the application sees it: the outbox (rows not yet
 * relayed, the oldest one's age) and the stream (entries pending in the workers' group, entries not
 * yet delivered to it).
 *
 * <p>Lag never makes the application DOWN: reads stay correct (only staler) while the daemon is
 * behind, and restarting the application would not help. It is reported in the details, with {@code
 * lagging = true} once the oldest unrelayed row is older than {@code
 * invalidator.health.max-outbox-age}. The indicator is DOWN only when PostgreSQL or Redis cannot be
 * queried.
 */
public final class InvalidatorHealthIndicator implements HealthIndicator, AutoCloseable {
  private final DataSource dataSource;
  private final OutboxTable table;
  private final RedisStreamSource stream;
  private final Duration maxOutboxAge;

  /**
   * @param stream a source of the workers' group, used only for its statistics; closed with this
   *     indicator
   */
  public InvalidatorHealthIndicator(
      DataSource dataSource, OutboxTable table, RedisStreamSource stream, Duration maxOutboxAge) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.table = Objects.requireNonNull(table, "table");
    this.stream = Objects.requireNonNull(stream, "stream");
    this.maxOutboxAge = Objects.requireNonNull(maxOutboxAge, "maxOutboxAge");
  }

  @Override
  public Health health() {
    OutboxStats outbox;
    StreamStats s;
    try {
      outbox = OutboxStats.read(dataSource, table);
    } catch (RuntimeException ex) {
      return Health.down(ex).withDetail("outbox", table.qualified()).build();
    }
    try {
      s = stream.stats();
    } catch (RuntimeException ex) {
      return Health.down(ex).withDetail("outbox", table.qualified()).build();
    }
    return Health.up()
        .withDetail("outbox", table.qualified())
        .withDetail("outboxPending", outbox.pending())
        .withDetail("outboxOldestAgeSeconds", outbox.oldestPendingAge().toMillis() / 1000.0)
        .withDetail("stream", s.stream())
        .withDetail("group", s.group())
        .withDetail("groupExists", s.groupExists())
        .withDetail("streamPending", s.pending())
        .withDetail("streamLag", s.lag())
        .withDetail("lagging", outbox.oldestPendingAge().compareTo(maxOutboxAge) > 0)
        .build();
  }

  @Override
  public void close() {
    stream.close();
  }
}
