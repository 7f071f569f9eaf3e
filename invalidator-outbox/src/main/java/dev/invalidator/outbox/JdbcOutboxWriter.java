package dev.invalidator.outbox;

import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.core.TraceContext;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;

/** {@link OutboxWriter} for PostgreSQL: a parameterised INSERT, the payload cast to jsonb. */
final class JdbcOutboxWriter implements OutboxWriter {
  private final OutboxTable table;
  private final String insert;

  JdbcOutboxWriter(OutboxTable table) {
    this.table = Objects.requireNonNull(table, "table");
    this.insert =
        "INSERT INTO "
            + table.qualified()
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,"
            + " event_type, payload, traceparent, tracestate)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?::jsonb, ?, ?)";
  }

  @Override
  public OutboxTable table() {
    return table;
  }

  @Override
  public void append(Connection connection, InvalidationEvent event) throws SQLException {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(event, "event");
    try (PreparedStatement ps = connection.prepareStatement(insert)) {
      bind(ps, event);
      ps.executeUpdate();
    }
  }

  @Override
  public void appendAll(Connection connection, List<InvalidationEvent> events) throws SQLException {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(events, "events");
    if (events.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = connection.prepareStatement(insert)) {
      for (InvalidationEvent event : events) {
        bind(ps, Objects.requireNonNull(event, "event"));
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  private static void bind(PreparedStatement ps, InvalidationEvent e) throws SQLException {
    ps.setObject(1, e.eventId());
    ps.setString(2, e.tenantId());
    ps.setString(3, e.aggregate().type());
    ps.setString(4, e.aggregate().id());
    ps.setLong(5, e.aggregateVersion());
    ps.setString(6, e.eventType());
    ps.setString(7, EventCodec.encodePayload(e.payload()));
    // No explicit trace context: capture the caller's current span, so the worker's span joins it.
    TraceContext trace = e.trace().isPresent() ? e.trace() : MessagingSpans.currentTraceContext();
    ps.setString(8, trace.traceparent());
    ps.setString(9, trace.tracestate());
  }

  @Override
  public String toString() {
    return "OutboxWriter[" + table + "]";
  }
}
