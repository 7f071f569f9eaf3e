package dev.invalidator.outbox;

import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.UUID;

/**
 * An outbox row read by a query as an event: the relay and the replay select {@link #COLUMNS} in
 * that order; {@link #toEvent} reads them into an {@link OutboxRow}, whose {@link
 * OutboxRow#toEvent} is the one mapping every relay shares (the CDC relay builds {@link OutboxRow}s
 * from change records).
 */
final class OutboxRows {
  /** The columns {@link #toEvent} reads, in order (the payload as text). */
  static final String COLUMNS =
      "id, event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
          + " payload::text, traceparent, tracestate, created_at";

  private OutboxRows() {}

  /**
   * The event of the current row.
   *
   * @throws InvalidEventException when the row cannot become a valid event (a missing event id, a
   *     bad identifier, a malformed payload); an unparseable trace context is dropped with a
   *     warning instead, since the event itself is sound
   */
  static InvalidationEvent toEvent(ResultSet rs, OutboxTable table) throws SQLException {
    return new OutboxRow(
            rs.getLong(1),
            rs.getObject(2, UUID.class),
            rs.getString(3),
            rs.getString(4),
            rs.getString(5),
            rs.getLong(6),
            rs.getString(7),
            rs.getString(8),
            rs.getString(9),
            rs.getString(10),
            rs.getObject(11, OffsetDateTime.class).toInstant())
        .toEvent(table);
  }
}
