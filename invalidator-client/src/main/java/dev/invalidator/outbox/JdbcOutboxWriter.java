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

/**
 * {@link OutboxWriter}: a parameterised INSERT of the connection's {@link OutboxDialect}. Without a
 * fixed dialect the writer asks each connection which database it talks to (the driver answers from
 * what it learnt at connect time, no round trip), so one writer serves whatever database the
 * caller's connection is to.
 */
final class JdbcOutboxWriter implements OutboxWriter {
  /** pgJDBC's driver name; another driver gets the two separate calls. */
  private static final String PGJDBC = "PostgreSQL JDBC Driver";

  private final OutboxTable table;
  private final OutboxDialect fixed;
  private final String postgresInsert;
  private final String mysqlInsert;
  private final String postgresInsertAndCommit;

  JdbcOutboxWriter(OutboxTable table, OutboxDialect dialect) {
    this.table = Objects.requireNonNull(table, "table");
    this.fixed = dialect;
    this.postgresInsert = OutboxDialect.POSTGRESQL.insert(table);
    this.mysqlInsert = OutboxDialect.MYSQL.insert(table);
    // pgJDBC sends the statements of one query string in one round trip (one Sync) and follows
    // the transaction state the server reports, so the connection is idle afterwards and a
    // commit() the caller adds anyway does nothing.
    this.postgresInsertAndCommit = postgresInsert + "; COMMIT";
  }

  private OutboxDialect dialect(Connection connection) throws SQLException {
    return fixed != null ? fixed : OutboxDialect.of(connection);
  }

  private String insert(OutboxDialect dialect) {
    return dialect == OutboxDialect.MYSQL ? mysqlInsert : postgresInsert;
  }

  @Override
  public OutboxTable table() {
    return table;
  }

  @Override
  public void append(Connection connection, InvalidationEvent event) throws SQLException {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(event, "event");
    OutboxDialect dialect = dialect(connection);
    try (PreparedStatement ps = connection.prepareStatement(insert(dialect))) {
      bind(ps, event, dialect);
      ps.executeUpdate();
    }
  }

  @Override
  public void appendAndCommit(Connection connection, InvalidationEvent event) throws SQLException {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(event, "event");
    OutboxDialect dialect = dialect(connection);
    if (dialect != OutboxDialect.POSTGRESQL
        || connection.getAutoCommit()
        || !PGJDBC.equals(connection.getMetaData().getDriverName())) {
      OutboxWriter.super.appendAndCommit(connection, event);
      return;
    }
    try (PreparedStatement ps = connection.prepareStatement(postgresInsertAndCommit)) {
      bind(ps, event, dialect);
      ps.execute();
    }
  }

  @Override
  public void appendAll(Connection connection, List<InvalidationEvent> events) throws SQLException {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(events, "events");
    if (events.isEmpty()) {
      return;
    }
    OutboxDialect dialect = dialect(connection);
    try (PreparedStatement ps = connection.prepareStatement(insert(dialect))) {
      for (InvalidationEvent event : events) {
        bind(ps, Objects.requireNonNull(event, "event"), dialect);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  private static void bind(PreparedStatement ps, InvalidationEvent e, OutboxDialect dialect)
      throws SQLException {
    dialect.setUuid(ps, 1, e.eventId());
    ps.setString(2, e.tenantId());
    ps.setString(3, e.aggregate().type());
    ps.setString(4, e.aggregate().id());
    ps.setLong(5, e.aggregateVersion());
    ps.setString(6, e.eventType());
    ps.setString(7, EventCodec.encodePayload(e.payload()));
    // No explicit trace context: capture the caller's current span, so the worker's span joins it.
    // OpenTelemetry is optional: without its API there is no span to capture (and MessagingSpans,
    // which names its types, is never loaded).
    TraceContext trace =
        e.trace().isPresent()
            ? e.trace()
            : OptionalDependencies.OPENTELEMETRY
                ? MessagingSpans.currentTraceContext()
                : TraceContext.NONE;
    ps.setString(8, trace.traceparent());
    ps.setString(9, trace.tracestate());
  }

  @Override
  public String toString() {
    return "OutboxWriter[" + table + "]";
  }
}
