package dev.invalidator.spring;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;
import org.springframework.jdbc.datasource.DataSourceUtils;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * An {@link OutboxWriter} that joins the current Spring transaction: {@link
 * #append(InvalidationEvent)} writes through the connection the transaction holds on the
 * application's {@link DataSource} ({@link DataSourceUtils}), so the event commits or rolls back
 * with the business change (G1), and refuses to write when no transaction is active or the active
 * one is read-only. The {@link OutboxWriter} methods that take a connection are passed through
 * unchanged, for code that manages its own.
 */
public final class SpringOutboxWriter implements OutboxWriter {
  private final OutboxWriter delegate;
  private final DataSource dataSource;

  /**
   * @param table the outbox table
   * @param dataSource the data source the application's transactions run on
   */
  public SpringOutboxWriter(OutboxTable table, DataSource dataSource) {
    this.delegate = OutboxWriter.create(table);
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
  }

  /**
   * Inserts one event in the current Spring transaction.
   *
   * @throws IllegalStateException when no Spring transaction is active, or it is read-only
   * @throws SQLException from the driver, unchanged
   */
  public void append(InvalidationEvent event) throws SQLException {
    appendAll(List.of(event));
  }

  /**
   * Inserts several events in the current Spring transaction, as one JDBC batch.
   *
   * @throws IllegalStateException when no Spring transaction is active, or it is read-only
   * @throws SQLException from the driver, unchanged
   */
  public void appendAll(List<InvalidationEvent> events) throws SQLException {
    if (!TransactionSynchronizationManager.isActualTransactionActive()) {
      throw new IllegalStateException(
          "no Spring transaction is active: write invalidation events inside the transaction that"
              + " changes the data (@Transactional or a TransactionTemplate), so that they commit"
              + " or roll back with it");
    }
    if (TransactionSynchronizationManager.isCurrentTransactionReadOnly()) {
      throw new IllegalStateException(
          "the current Spring transaction is read-only: an invalidation event belongs to the"
              + " transaction that changes the data");
    }
    Connection connection = DataSourceUtils.getConnection(dataSource);
    try {
      if (events.size() == 1) {
        delegate.append(connection, events.get(0));
      } else {
        delegate.appendAll(connection, events);
      }
    } finally {
      DataSourceUtils.releaseConnection(connection, dataSource);
    }
  }

  @Override
  public OutboxTable table() {
    return delegate.table();
  }

  @Override
  public void append(Connection connection, InvalidationEvent event) throws SQLException {
    delegate.append(connection, event);
  }

  @Override
  public void appendAll(Connection connection, List<InvalidationEvent> events) throws SQLException {
    delegate.appendAll(connection, events);
  }

  @Override
  public void appendAndCommit(Connection connection, InvalidationEvent event) throws SQLException {
    delegate.appendAndCommit(connection, event);
  }
}
