package dev.invalidator.outbox;

import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.TraceContext;
import java.time.Instant;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One outbox row as a relay reads it, whatever read it: the polling relay's claim, the replay's
 * query (both through {@link OutboxRows}) or a change-data-capture record. {@link
 * #toEvent(OutboxTable)} is the single mapping from a row to an {@link InvalidationEvent}, so every
 * relay accepts, rejects and drops trace context alike.
 *
 * @param id the row's {@code id}
 * @param eventId {@code event_id}; null only in a malformed row
 * @param tenantId {@code tenant_id}
 * @param aggregateType {@code aggregate_type}
 * @param aggregateId {@code aggregate_id}
 * @param aggregateVersion {@code aggregate_version}
 * @param eventType {@code event_type}
 * @param payload {@code payload} as JSON text
 * @param traceparent {@code traceparent}, may be null
 * @param tracestate {@code tracestate}, may be null
 * @param createdAt {@code created_at}
 */
public record OutboxRow(
    long id,
    UUID eventId,
    String tenantId,
    String aggregateType,
    String aggregateId,
    long aggregateVersion,
    String eventType,
    String payload,
    String traceparent,
    String tracestate,
    Instant createdAt) {

  private static final Logger log = LoggerFactory.getLogger(OutboxRow.class);

  /**
   * The event this row announces. A malformed {@code traceparent} or {@code tracestate} does not
   * reject the row: the invalidation matters more than its trace, so the trace context is dropped
   * with a WARN naming {@code table}, the row id and the event id.
   *
   * @throws InvalidEventException naming the field when the row cannot become a valid event; a
   *     relay quarantines such a row (see {@link PollingRelay})
   */
  public InvalidationEvent toEvent(OutboxTable table) {
    if (eventId == null) {
      throw new InvalidEventException("event_id", "is missing");
    }
    return InvalidationEvent.builder()
        .eventId(eventId)
        .tenant(tenantId)
        .aggregate(aggregateType, aggregateId)
        .version(aggregateVersion)
        .eventType(eventType)
        .payload(EventCodec.decodePayload(payload))
        .trace(trace(table))
        .createdAt(createdAt)
        .build();
  }

  private TraceContext trace(OutboxTable table) {
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
