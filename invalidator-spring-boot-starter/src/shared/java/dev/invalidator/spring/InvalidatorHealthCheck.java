package dev.invalidator.spring;

import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.StreamStats;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * What the Actuator health indicator reports, for both Spring Boot generations (their {@code
 * HealthIndicator} lives in different packages, so each starter has a thin indicator of its own
 * around this): the outbox (rows not yet relayed, the oldest one's age) and the stream (entries
 * pending in the workers' group, entries not yet delivered to it).
 *
 * <p>Lag never makes the application DOWN: reads stay correct (only staler) while the daemon is
 * behind, and restarting the application would not help. It is reported in the details, with {@code
 * lagging = true} once the oldest unrelayed row is older than {@code
 * invalidator.health.max-outbox-age}. The check is DOWN only when PostgreSQL or Redis cannot be
 * queried.
 */
public final class InvalidatorHealthCheck implements AutoCloseable {
  /** One check's outcome: up with details, or down with the error and the outbox's name. */
  public record Result(boolean up, Throwable error, Map<String, Object> details) {}

  private final DataSource dataSource;
  private final OutboxTable table;
  private final RedisStreamSource stream;
  private final Duration maxOutboxAge;

  /**
   * @param stream a source of the workers' group, used only for its statistics; closed with this
   *     check
   */
  public InvalidatorHealthCheck(
      DataSource dataSource, OutboxTable table, RedisStreamSource stream, Duration maxOutboxAge) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.table = Objects.requireNonNull(table, "table");
    this.stream = Objects.requireNonNull(stream, "stream");
    this.maxOutboxAge = Objects.requireNonNull(maxOutboxAge, "maxOutboxAge");
  }

  /** The check on the application's DataSource and Lettuce client, as the starter configures it. */
  static InvalidatorHealthCheck of(
      InvalidatorProperties properties,
      DataSource dataSource,
      LettuceConnectionFactory connectionFactory) {
    InvalidatorProperties.Outbox o = properties.getOutbox();
    RedisStreamSource stream =
        RedisStreamSource.builder(
                InvalidatorAutoConfiguration.Cache.redisClient(connectionFactory),
                new KeyScheme(properties.getRedis().getPrefix()))
            .group(properties.getHealth().getGroup())
            .consumer("health")
            .build();
    return new InvalidatorHealthCheck(
        dataSource,
        OutboxTable.of(o.getSchema(), o.getTable()),
        stream,
        properties.getHealth().getMaxOutboxAge());
  }

  /** Queries the outbox and the stream once. */
  public Result check() {
    OutboxStats outbox;
    StreamStats s;
    try {
      outbox = OutboxStats.read(dataSource, table);
      s = stream.stats();
    } catch (RuntimeException ex) {
      return new Result(false, ex, Map.of("outbox", table.qualified()));
    }
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("outbox", table.qualified());
    d.put("outboxPending", outbox.pending());
    d.put("outboxOldestAgeSeconds", outbox.oldestPendingAge().toMillis() / 1000.0);
    d.put("stream", s.stream());
    d.put("group", s.group());
    d.put("groupExists", s.groupExists());
    d.put("streamPending", s.pending());
    d.put("streamLag", s.lag());
    d.put("lagging", outbox.oldestPendingAge().compareTo(maxOutboxAge) > 0);
    return new Result(true, null, d);
  }

  @Override
  public void close() {
    stream.close();
  }
}
