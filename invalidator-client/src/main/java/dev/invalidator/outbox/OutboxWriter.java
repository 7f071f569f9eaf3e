package dev.invalidator.outbox;

import dev.invalidator.core.InvalidationEvent;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * Appends invalidation events to the outbox through the caller's own JDBC connection, inside the
 * caller's transaction, so an event exists if and only if the business transaction commits (G1).
 *
 * <p>The writer never opens or rolls back a transaction, never changes auto-commit and never talks
 * to Redis: it runs one {@code INSERT} (one batched {@code INSERT} for {@link #appendAll}) and
 * leaves everything else to the caller. It commits only when asked to by name, in {@link
 * #appendAndCommit}. Typical use:
 *
 * <pre>{@code
 * conn.setAutoCommit(false);
 * try (PreparedStatement ps = conn.prepareStatement(
 *     "UPDATE orders SET status = ?, version = version + 1 WHERE id = ? RETURNING version")) {
 *   ...
 * }
 * writer.append(conn, InvalidationEvent.builder()
 *     .tenant("acme").aggregate("order", "42").version(newVersion).build());
 * conn.commit();
 * }</pre>
 *
 * <p>A connection in auto-commit mode is accepted: the row is then committed on its own,
 * immediately, which gives up atomicity with the business change. The writer does not warn about it
 * (it cannot know whether the caller meant it); use a transaction.
 *
 * <p>Trace context: an event without {@code traceparent} gets the caller's current OpenTelemetry
 * span (W3C format, read through the OpenTelemetry API's {@code Span.current()}), so the relay's
 * and the worker's spans join the trace of the business transaction; an event with one keeps it.
 *
 * <p>The event's {@code createdAt} is ignored: the row's {@code created_at} is set by the database,
 * inside the committing transaction. Implementations are immutable and thread-safe; the connection
 * is, as always with JDBC, used by one thread at a time.
 */
public interface OutboxWriter {
  /** A writer for {@code table}. */
  static OutboxWriter create(OutboxTable table) {
    return new JdbcOutboxWriter(table, null);
  }

  /**
   * A writer for {@code table} in a database of {@code dialect}, for callers that know it; {@link
   * #create(OutboxTable)} finds it from each connection.
   */
  static OutboxWriter create(OutboxTable table, OutboxDialect dialect) {
    return new JdbcOutboxWriter(table, java.util.Objects.requireNonNull(dialect, "dialect"));
  }

  /** The table this writer inserts into. */
  OutboxTable table();

  /**
   * Inserts one event in the caller's transaction.
   *
   * @throws SQLException from the driver, unchanged (a duplicate {@code event_id} violates the
   *     unique constraint)
   * @throws dev.invalidator.core.InvalidEventException when the payload is larger than {@link
   *     dev.invalidator.core.EventCodec#MAX_EVENT_BYTES}
   */
  void append(Connection connection, InvalidationEvent event) throws SQLException;

  /**
   * Inserts several events in the caller's transaction, in list order, as one JDBC batch. An empty
   * list does nothing.
   *
   * @throws SQLException from the driver, unchanged
   */
  void appendAll(Connection connection, List<InvalidationEvent> events) throws SQLException;

  /**
   * Inserts one event and commits the caller's transaction: {@link #append} followed by {@code
   * connection.commit()}, for code that manages its own transaction and commits right after
   * appending. On PostgreSQL (pgJDBC) the {@code INSERT} and the {@code COMMIT} travel in one round
   * trip instead of two, which is most of what the outbox adds to a short transaction's latency
   * (README, "Performance"); elsewhere it is exactly the two calls. Either both the business change
   * and the event commit, or neither (G1): a failure of the insert or of the commit throws, and the
   * transaction is rolled back by the database. On a connection in auto-commit mode it is {@link
   * #append}. Not for a transaction someone else commits (Spring's {@code @Transactional}): use
   * {@link #append} there.
   *
   * @throws SQLException from the driver, unchanged
   */
  default void appendAndCommit(Connection connection, InvalidationEvent event) throws SQLException {
    append(connection, event);
    if (!connection.getAutoCommit()) {
      connection.commit();
    }
  }
}
