package dev.invalidator.cdc;

import dev.invalidator.outbox.OutboxRow;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

/**
 * Turns a Debezium change record of the outbox table into an {@link OutboxRow}. With the default
 * converters the PostgreSQL connector gives {@code bigint} as {@code Long}, {@code uuid}, {@code
 * text} and {@code jsonb} as {@code String}, and {@code timestamptz} as an ISO-8601 {@code String}
 * ({@code io.debezium.time.ZonedTimestamp}).
 */
final class OutboxRecords {
  private OutboxRecords() {}

  /** What one record is to the relay. */
  sealed interface Decoded permits Row, Skip, Malformed {}

  /** An inserted (or snapshot-read) row. */
  record Row(OutboxRow row) implements Decoded {}

  /** Not an outbox insert: a heartbeat, a tombstone, an update or delete. */
  record Skip(String why) implements Decoded {}

  /** An outbox insert whose columns could not even be read into an {@link OutboxRow}. */
  record Malformed(long id, String reason) implements Decoded {}

  static Decoded decode(SourceRecord record) {
    if (!(record.value() instanceof Struct value) || value.schema().field("op") == null) {
      return new Skip("not a change event (" + record.topic() + ")");
    }
    String op = value.getString("op");
    if (!"c".equals(op) && !"r".equals(op)) {
      return new Skip("operation " + op);
    }
    Struct after = value.getStruct("after");
    if (after == null) {
      return new Skip("no row image");
    }
    Long id = (Long) get(after, "id");
    if (id == null) {
      return new Malformed(-1, "id: is missing");
    }
    try {
      String eventId = (String) get(after, "event_id");
      Object version = get(after, "aggregate_version");
      String createdAt = (String) get(after, "created_at");
      return new Row(
          new OutboxRow(
              id,
              eventId == null ? null : UUID.fromString(eventId),
              (String) get(after, "tenant_id"),
              (String) get(after, "aggregate_type"),
              (String) get(after, "aggregate_id"),
              version == null ? -1 : ((Number) version).longValue(),
              (String) get(after, "event_type"),
              (String) get(after, "payload"),
              (String) get(after, "traceparent"),
              (String) get(after, "tracestate"),
              createdAt == null ? null : parseInstant(createdAt)));
    } catch (RuntimeException ex) {
      return new Malformed(id, "unreadable column: " + ex);
    }
  }

  private static Object get(Struct s, String column) {
    Field f = s.schema().field(column);
    return f == null ? null : s.get(f);
  }

  private static Instant parseInstant(String s) {
    return OffsetDateTime.parse(s).toInstant();
  }
}
