package dev.invalidator.outbox;

import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.TraceContext;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An outbox row as an event: the one mapping the relay and the replay share. A query selects {@link
 * #COLUMNS} in that order; {@link #toEvent} reads them.
 */
final class OutboxRows {
  private static final Logger log = LoggerFactory.getLogger(OutboxRows.class);

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
    long id = rs.getLong(1);
    UUID eventId = rs.getObject(2, UUID.class);
    if (eventId == null) {
      throw new InvalidEventException("event_id", "is missing");
    }
    return InvalidationEvent.builder()
        .eventId(eventId)
        .tenant(rs.getString(3))
        .aggregate(rs.getString(4), rs.getString(5))
        .version(rs.getLong(6))
        .eventType(rs.getString(7))
        .payload(EventCodec.decodePayload(rs.getString(8)))
        .trace(trace(table, id, eventId, rs.getString(9), rs.getString(10)))
        .createdAt(rs.getObject(11, OffsetDateTime.class).toInstant())
        .build();
  }

  private static TraceContext trace(
      OutboxTable table, long id, UUID eventId, String traceparent, String tracestate) {
    try {
      return TraceContext.of(traceparent, tracestate);
    } catch (InvalidEventException ex) {
      log.warn(
          "outbox {} row {} (event {}): trace context dropped, {}",
          table,
          id,
          eventId,
          ex.getMessage());
      return TraceContext.NONE;
    }
  }
}
