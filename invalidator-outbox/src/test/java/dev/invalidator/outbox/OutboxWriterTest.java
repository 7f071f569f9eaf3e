package dev.invalidator.outbox;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import dev.invalidator.core.TraceContext;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** G1: an event exists if and only if the business transaction committed. */
class OutboxWriterTest {
  final TestDb db = db();
  private final DataSource ds = db.dataSource();
  private OutboxTable table;
  private String business;
  private OutboxWriter writer;
  private RecordingPublisher publisher;
  private PollingRelay relay;

  /** The database this suite runs against; {@link MySqlOutboxWriterTest} runs it on MariaDB. */
  TestDb db() {
    return TestDb.postgres();
  }

  @BeforeEach
  void setUp() {
    table = db.newOutbox();
    business = TestDb.randomName("orders_");
    db.execute(
        "CREATE TABLE "
            + business
            + " (id varchar(32) PRIMARY KEY, status varchar(32), version bigint)",
        "INSERT INTO " + business + " VALUES ('42', 'new', 1)");
    writer = OutboxWriter.create(table);
    publisher = new RecordingPublisher();
    relay = PollingRelay.builder(ds, table, publisher).build();
  }

  @AfterEach
  void tearDown() {
    db.drop(table);
    db.execute("DROP TABLE IF EXISTS " + business);
  }

  @Test
  void rolledBackTransactionLeavesNoOutboxRowAndPublishesNothing() throws SQLException {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      long version = updateOrder(c, "paid");
      writer.append(c, Events.event("acme", "order", "42", version));
      c.rollback();
      c.setAutoCommit(true);
    }

    assertThat(relay.relayOnce()).isZero();
    assertThat(publisher.published()).isEmpty();
    assertThat(publisher.calls()).isZero();
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isZero();
    assertThat(db.queryLong("SELECT version FROM " + business)).isEqualTo(1);
  }

  @Test
  void committedTransactionYieldsExactlyOneEvent() throws SQLException {
    Instant before = Instant.now().minusSeconds(5);
    InvalidationEvent event;
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      long version = updateOrder(c, "paid");
      event =
          InvalidationEvent.builder()
              .tenant("acme")
              .aggregate("order", "42")
              .version(version)
              .eventType("order.paid")
              .payload(
                  new Payload(List.of("summary", "detail"), List.of("orders-list"), List.of("o42")))
              .trace(
                  TraceContext.of(
                      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "vendor=abc"))
              .build();
      writer.append(c, event);
      c.commit();
      c.setAutoCommit(true);
    }

    assertThat(relay.relayOnce()).isEqualTo(1);
    List<EventPublisher.Outgoing> published = publisher.published();
    assertThat(published).hasSize(1);
    InvalidationEvent got = published.get(0).event();
    assertThat(got).usingRecursiveComparison().ignoringFields("createdAt").isEqualTo(event);
    assertThat(got.aggregateVersion()).isEqualTo(2);
    assertThat(got.createdAt()).isBetween(before, Instant.now().plusSeconds(5));
    assertThat(published.get(0).outboxId())
        .isEqualTo(db.queryLong("SELECT id FROM " + db.q(table)));

    assertThat(relay.relayOnce()).isZero();
    assertThat(publisher.published()).hasSize(1);
    assertThat(
            db.queryLong("SELECT count(*) FROM " + db.q(table) + " WHERE relayed_at IS NOT NULL"))
        .isEqualTo(1);
  }

  @Test
  void appendNeitherCommitsNorChangesAutoCommit() throws SQLException {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      writer.append(c, Events.event("acme", "order", "42", 2));
      assertThat(c.getAutoCommit()).isFalse();
      // Not visible to anyone else until the caller commits.
      assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isZero();
      assertThat(relay.relayOnce()).isZero();
      c.commit();
      c.setAutoCommit(true);
    }
    assertThat(relay.relayOnce()).isEqualTo(1);
  }

  @Test
  void appendAllWritesEveryEventInListOrder() throws SQLException {
    List<InvalidationEvent> events =
        List.of(
            Events.event("acme", "order", "1", 1),
            Events.event("acme", "order", "2", 5),
            Events.event("globex", "customer", "c-9", 0));
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      writer.appendAll(c, events);
      writer.appendAll(c, List.of());
      c.commit();
      c.setAutoCommit(true);
    }

    assertThat(relay.relayOnce()).isEqualTo(3);
    List<UUID> expected = events.stream().map(InvalidationEvent::eventId).toList();
    assertThat(publisher.eventIds()).containsExactlyElementsOf(expected);
    List<Long> ids = publisher.published().stream().map(EventPublisher.Outgoing::outboxId).toList();
    assertThat(ids).isSorted();
  }

  @Test
  void appendInAutoCommitModeCommitsTheRowAlone() throws SQLException {
    try (Connection c = ds.getConnection()) {
      assertThat(c.getAutoCommit()).isTrue();
      writer.append(c, Events.event("acme", "order", "42", 2));
      assertThat(c.getAutoCommit()).isTrue();
    }
    assertThat(relay.drain()).isEqualTo(1);
    assertThat(publisher.published()).hasSize(1);
  }

  @Test
  void appendAndCommitCommitsTheChangeAndTheEventTogetherAndLeavesTheConnectionUsable()
      throws SQLException {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      long version = updateOrder(c, "paid");
      writer.appendAndCommit(c, Events.event("acme", "order", "42", version));
      // Committed: visible to another connection before this one does anything else.
      assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isEqualTo(1);
      assertThat(db.queryLong("SELECT version FROM " + business)).isEqualTo(2);
      c.commit(); // what a caller may add anyway: nothing left to commit
      // The next statement runs in a new transaction of the caller's, which it may roll back.
      updateOrder(c, "shipped");
      writer.append(c, Events.event("acme", "order", "42", 3));
      c.rollback();
      c.setAutoCommit(true);
    }
    assertThat(db.queryLong("SELECT version FROM " + business)).isEqualTo(2);
    assertThat(relay.relayOnce()).isEqualTo(1);
    assertThat(publisher.published()).hasSize(1);
    assertThat(publisher.published().get(0).event().aggregateVersion()).isEqualTo(2);
  }

  @Test
  void appendAndCommitThatFailsCommitsNeitherTheChangeNorTheEvent() throws SQLException {
    InvalidationEvent first = Events.event("acme", "order", "42", 1);
    try (Connection c = ds.getConnection()) {
      writer.append(c, first); // auto-commit: on its own
      c.setAutoCommit(false);
      long version = updateOrder(c, "paid");
      InvalidationEvent sameId =
          InvalidationEvent.builder()
              .eventId(first.eventId())
              .tenant("acme")
              .aggregate("order", "42")
              .version(version)
              .build();
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> writer.appendAndCommit(c, sameId))
          .isInstanceOf(SQLException.class);
      c.rollback();
      c.setAutoCommit(true);
    }
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isEqualTo(1);
    assertThat(db.queryLong("SELECT version FROM " + business)).isEqualTo(1);
  }

  @Test
  void appendAndCommitOnAnAutoCommitConnectionIsAppend() throws SQLException {
    try (Connection c = ds.getConnection()) {
      writer.appendAndCommit(c, Events.event("acme", "order", "42", 2));
      assertThat(c.getAutoCommit()).isTrue();
    }
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isEqualTo(1);
  }

  private long updateOrder(Connection c, String status) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "UPDATE " + business + " SET status = ?, version = version + 1 WHERE id = '42'")) {
      ps.setString(1, status);
      ps.executeUpdate();
    }
    try (PreparedStatement ps =
            c.prepareStatement("SELECT version FROM " + business + " WHERE id = '42'");
        var rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
