package dev.invalidator.outbox;

import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * An outbox row read by a query as an event: the relay and the replay select {@link
 * OutboxDialect#columns()} in that order; {@link #toEvent} reads them into an {@link OutboxRow},
 * whose {@link OutboxRow#toEvent} is the one mapping every relay shares (the CDC relay builds
 * {@link OutboxRow}s from change records).
 */
final class OutboxRows {
  private OutboxRows() {}

  /**
   * The event of the current row.
   *
   * @throws InvalidEventException when the row cannot become a valid event (a missing event id, a
   *     bad identifier, a malformed payload); an unparseable trace context is dropped with a
   *     warning instead, since the event itself is sound
   */
  static InvalidationEvent toEvent(ResultSet rs, OutboxTable table, OutboxDialect dialect)
      throws SQLException {
    return new OutboxRow(
            rs.getLong(1),
            dialect.getUuid(rs, 2),
            rs.getString(3),
            rs.getString(4),
            rs.getString(5),
            rs.getLong(6),
            rs.getString(7),
            rs.getString(8),
            rs.getString(9),
            rs.getString(10),
            dialect.getInstant(rs, 11))
        .toEvent(table);
  }
}
