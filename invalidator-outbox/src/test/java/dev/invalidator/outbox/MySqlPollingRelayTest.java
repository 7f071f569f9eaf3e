package dev.invalidator.outbox;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidationEvent;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link PollingRelayTest} on MariaDB/MySQL, plus what only this dialect has: polling instead of
 * notifications, READ COMMITTED claims, UTC timestamps whatever the session's time zone.
 */
class MySqlPollingRelayTest extends PollingRelayTest {
  @BeforeAll
  static void requireMySql() {
    TestDb.mysql();
  }

  @Override
  TestDb db() {
    return TestDb.mysql();
  }

  @Test
  void quietRelayPicksUpARowWithinThePollIntervalWithoutNotifications() throws SQLException {
    PollingRelay relay =
        PollingRelay.builder(ds, table, publisher).pollInterval(Duration.ofMillis(200)).build();
    Instant built = relay.lastLoop();
    start(relay);
    // Several quiet drains: the wait has grown to the poll interval.
    await().atMost(5, SECONDS).until(() -> relay.lastLoop().isAfter(built.plusMillis(300)));

    UUID late = writeOne("late");

    await().atMost(2, SECONDS).until(() -> publisher.eventIds().contains(late));
  }

  @Test
  void timestampsAreUtcWhateverTheSessionTimeZone() throws SQLException {
    Instant before = Instant.now().minusSeconds(5);
    try (Connection c = ds.getConnection()) {
      try (Statement s = c.createStatement()) {
        s.execute("SET time_zone = '+05:00'");
      }
      try {
        OutboxWriter.create(table).append(c, Events.event("acme", "order", "tz", 1));
      } finally {
        try (Statement s = c.createStatement()) {
          s.execute("SET time_zone = DEFAULT");
        }
      }
    }
    PollingRelay relay = PollingRelay.builder(ds, table, publisher).build();

    assertThat(relay.relayOnce()).isEqualTo(1);

    InvalidationEvent e = publisher.published().get(0).event();
    assertThat(e.createdAt()).isBetween(before, Instant.now().plusSeconds(5));
    assertThat(OutboxStats.read(ds, table).pending()).isZero();
  }

  /**
   * A relay holding its claim open (its publish is slow) must not block producers: at READ
   * COMMITTED its locking read takes no gap locks. The negative control claims the same way at
   * REPEATABLE READ, InnoDB's default, and the producer's insert times out on the gap lock.
   */
  @Test
  void openClaimDoesNotBlockProducersButARepeatableReadClaimWould() throws Exception {
    writeOne("claimed");
    CountDownLatch publishing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    EventPublisher slow =
        new EventPublisher() {
          @Override
          public void publish(List<Outgoing> batch) {
            publishing.countDown();
            try {
              release.await(30, SECONDS);
            } catch (InterruptedException ex) {
              Thread.currentThread().interrupt();
            }
          }

          @Override
          public String destination() {
            return "slow";
          }
        };
    PollingRelay relay = PollingRelay.builder(ds, table, slow).build();
    CompletableFuture<Integer> claim = CompletableFuture.supplyAsync(relay::relayOnce);
    try {
      assertThat(publishing.await(10, SECONDS)).isTrue();
      // The claim's transaction is open; a producer at the default isolation commits at once.
      try (Connection c = ds.getConnection()) {
        try (Statement s = c.createStatement()) {
          s.execute("SET SESSION innodb_lock_wait_timeout = 2");
        }
        c.setAutoCommit(false);
        OutboxWriter.create(table).append(c, Events.event("acme", "order", "during", 1));
        c.commit();
        c.setAutoCommit(true);
        try (Statement s = c.createStatement()) {
          s.execute("SET SESSION innodb_lock_wait_timeout = DEFAULT");
        }
      }
    } finally {
      release.countDown();
    }
    assertThat(claim.get(10, SECONDS)).isEqualTo(1);

    // Negative control: the same claim at REPEATABLE READ blocks the producer.
    try (Connection relayTx = ds.getConnection();
        Connection producer = ds.getConnection()) {
      relayTx.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
      relayTx.setAutoCommit(false);
      try (Statement s = relayTx.createStatement();
          var rs =
              s.executeQuery(
                  "SELECT id FROM "
                      + db.q(table)
                      + " WHERE relayed_at IS NULL ORDER BY id LIMIT 10 FOR UPDATE SKIP LOCKED")) {
        assertThat(rs.next()).isTrue();
      }
      try (Statement s = producer.createStatement()) {
        s.execute("SET SESSION innodb_lock_wait_timeout = 1");
      }
      try {
        assertThatThrownBy(
                () ->
                    OutboxWriter.create(table)
                        .append(producer, Events.event("acme", "order", "blocked", 1)))
            .isInstanceOf(SQLException.class)
            .hasMessageContaining("Lock wait timeout");
      } finally {
        try (Statement s = producer.createStatement()) {
          s.execute("SET SESSION innodb_lock_wait_timeout = DEFAULT");
        }
        relayTx.rollback();
        relayTx.setAutoCommit(true);
      }
    }
  }

  @Test
  void dialectIsFoundFromTheConnection() {
    assertThat(OutboxDialect.of(ds)).isSameAs(OutboxDialect.MYSQL);
    assertThat(OutboxDialect.forJdbcUrl("jdbc:mariadb://h/db")).isSameAs(OutboxDialect.MYSQL);
    assertThat(OutboxDialect.forJdbcUrl("jdbc:mysql://h/db")).isSameAs(OutboxDialect.MYSQL);
    assertThat(OutboxDialect.forJdbcUrl("jdbc:postgresql://h/db"))
        .isSameAs(OutboxDialect.POSTGRESQL);
    assertThatThrownBy(() -> OutboxDialect.forJdbcUrl("jdbc:oracle:thin:@//h:1521/x?password=s"))
        .hasMessageContaining("database.url")
        .hasMessageNotContaining("password");
  }
}
