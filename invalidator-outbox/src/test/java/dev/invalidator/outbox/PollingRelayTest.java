package dev.invalidator.outbox;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.Payload;
import dev.invalidator.core.TraceContext;
import dev.invalidator.testing.MutableClock;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The relay's behaviour on every database: this class runs on PostgreSQL, {@link
 * MySqlPollingRelayTest} runs the same tests on MariaDB/MySQL.
 */
class PollingRelayTest {
  final TestDb db = db();
  final DataSource ds = db.dataSource();
  private final List<Thread> threads = new ArrayList<>();
  private final List<PollingRelay> running = new ArrayList<>();
  OutboxTable table;
  private OutboxWriter writer;
  RecordingPublisher publisher;
  private final CountingListener listener = new CountingListener();

  /** The database this suite runs against. */
  TestDb db() {
    return TestDb.postgres();
  }

  @BeforeEach
  void setUp() {
    table = db.newOutbox();
    writer = OutboxWriter.create(table);
    publisher = new RecordingPublisher();
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    running.forEach(PollingRelay::stop);
    for (Thread t : threads) {
      t.join(10_000);
      assertThat(t.isAlive()).as("relay thread stopped").isFalse();
    }
    db.drop(table);
  }

  @Test
  void publishFailureRollsBackAndRepublishes() throws SQLException {
    PollingRelay relay = relay(b -> {});
    List<UUID> written = write(3);
    publisher.failNext(1);

    assertThatThrownBy(relay::relayOnce)
        .isInstanceOf(InvalidatorException.class)
        .hasMessageContaining("injected");
    assertThat(unrelayed()).isEqualTo(3);
    assertThat(publisher.published()).isEmpty();

    assertThat(relay.relayOnce()).isEqualTo(3);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(written);
    assertThat(unrelayed()).isZero();
  }

  @Test
  void runLoopSurvivesPublisherOutageAndCatchesUp() throws SQLException {
    publisher.failNext(3);
    PollingRelay relay =
        relay(
            b ->
                b.backoff(new Backoff(Duration.ofMillis(10), Duration.ofMillis(50)))
                    .concurrency(1) // one failed batch per loop iteration
                    .pollInterval(Duration.ofMillis(200)));
    List<UUID> written = write(5);
    start(relay);

    await().atMost(10, SECONDS).until(() -> publisher.eventIds().size() == 5);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(written);
    assertThat(listener.loopErrors).hasSize(3);
    assertThat(unrelayed()).isZero();
  }

  @Test
  void pollsSoonWhileRowsArriveAndBacksOffToThePollIntervalWhenQuiet() {
    PollingRelay relay = relay(b -> b.pollInterval(Duration.ofMillis(100)));
    assertThat(relay.nextWait(0)).isEqualTo(PollingRelay.BUSY_POLL);
    assertThat(relay.nextWait(1)).isEqualTo(PollingRelay.BUSY_POLL.multipliedBy(2));
    assertThat(relay.nextWait(2)).isEqualTo(PollingRelay.BUSY_POLL.multipliedBy(4));
    assertThat(relay.nextWait(5)).isEqualTo(Duration.ofMillis(100));
    assertThat(relay.nextWait(30)).isEqualTo(Duration.ofMillis(100));
  }

  @Test
  void plainSqlProducerRowIsRelayed() {
    PollingRelay relay = relay(b -> {});
    UUID eventId = UUID.randomUUID();
    db.execute(
        "INSERT INTO "
            + db.q(table)
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type)"
            + " VALUES ('"
            + eventId
            + "', 'acme', 'order', '42', 7, 'order.paid')");

    assertThat(relay.relayOnce()).isEqualTo(1);
    InvalidationEvent e = publisher.published().get(0).event();
    assertThat(e.eventId()).isEqualTo(eventId);
    assertThat(e.tenantId()).isEqualTo("acme");
    assertThat(e.aggregate().type()).isEqualTo("order");
    assertThat(e.aggregate().id()).isEqualTo("42");
    assertThat(e.aggregateVersion()).isEqualTo(7);
    assertThat(e.eventType()).isEqualTo("order.paid");
    assertThat(e.payload()).isEqualTo(Payload.EMPTY);
    assertThat(e.trace()).isEqualTo(TraceContext.NONE);
    assertThat(e.createdAt()).isNotNull();
  }

  @Test
  void invalidRowIsQuarantinedNotBlocking() throws SQLException {
    PollingRelay relay = relay(b -> b.batchSize(10));
    db.execute(
        "INSERT INTO "
            + db.q(table)
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type)"
            + " VALUES ("
            + db.newUuid()
            + ", 'a{b', 'order', '1', 1, 'changed')",
        "INSERT INTO "
            + db.q(table)
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
            + " payload) VALUES ("
            + db.newUuid()
            + ", 'acme', 'order', '2', 1, 'changed',"
            + " '{\"views\": [1]}')");
    List<UUID> valid = write(2);

    assertThat(relay.relayOnce()).isEqualTo(4);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(valid);
    assertThat(listener.quarantined.get()).isEqualTo(2);
    assertThat(unrelayed()).isZero();
    List<String> errors = new ArrayList<>();
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT relay_error FROM "
                    + db.q(table)
                    + " WHERE relay_error IS NOT NULL ORDER BY id");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        errors.add(rs.getString(1));
      }
    }
    assertThat(errors).hasSize(2);
    assertThat(errors.get(0)).startsWith("tenant_id").contains("'{'");
    assertThat(errors.get(1)).startsWith("payload.views");
    assertThat(OutboxStats.read(ds, table).quarantined()).isEqualTo(2);

    assertThat(relay.relayOnce()).isZero();
    assertThat(publisher.published()).hasSize(2);
  }

  @Test
  void malformedTraceContextIsDroppedNotQuarantined() {
    PollingRelay relay = relay(b -> {});
    db.execute(
        "INSERT INTO "
            + db.q(table)
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
            + " traceparent) VALUES ("
            + db.newUuid()
            + ", 'acme', 'order', '1', 3, 'changed',"
            + " 'not-a-traceparent')");

    assertThat(relay.relayOnce()).isEqualTo(1);
    assertThat(publisher.published().get(0).event().trace()).isEqualTo(TraceContext.NONE);
    assertThat(listener.quarantined.get()).isZero();
  }

  @Test
  void retentionDeletesOnlyOldRelayedRows() throws SQLException {
    PollingRelay relay = relay(b -> b.retention(Duration.ofHours(24)).cleanupBatchSize(2));
    write(5);
    relay.drain();
    // Age five relayed rows past the window; keep one young, one pending, one quarantined old.
    db.execute(
        "UPDATE " + db.q(table) + " SET relayed_at = " + db.minusSeconds("relayed_at", 25 * 3600));
    write(1);
    relay.drain();
    db.execute(
        "INSERT INTO "
            + db.q(table)
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
            + " relayed_at, relay_error) VALUES ("
            + db.newUuid()
            + ", 'a b', 'order', '1', 1, 'changed', "
            + db.minusSeconds(db.now(), 30 * 86400)
            + ", 'tenant_id: contains whitespace')");
    UUID pending = write(1).get(0);

    assertThat(relay.cleanUp()).isEqualTo(5);

    assertThat(listener.cleanedUp.get()).isEqualTo(5);
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isEqualTo(3);
    assertThat(unrelayed()).isEqualTo(1);
    assertThat(
            db.queryLong(
                "SELECT count(*) FROM "
                    + db.q(table)
                    + " WHERE event_id = '"
                    + pending
                    + "' AND relayed_at IS NULL"))
        .isEqualTo(1);
    assertThat(relay.cleanUp()).isZero();
  }

  /**
   * A producer's transaction still open holds a row retention must not wait for. On MySQL a plain
   * DELETE that scanned the table waited for it (innodb_lock_wait_timeout, 50 s, with the relay
   * loop stalled behind it); the clean-up skips locked rows instead.
   */
  @Test
  void retentionDoesNotWaitForAProducerTransactionStillOpen() throws Exception {
    PollingRelay relay = relay(b -> b.retention(Duration.ofHours(1)));
    write(3);
    relay.drain();
    db.execute(
        "UPDATE " + db.q(table) + " SET relayed_at = " + db.minusSeconds("relayed_at", 7200));
    try (Connection holder = ds.getConnection()) {
      holder.setAutoCommit(false);
      writer.append(holder, Events.event("acme", "order", "open", 1));

      int deleted =
          java.util.concurrent.CompletableFuture.supplyAsync(relay::cleanUp).get(10, SECONDS);

      assertThat(deleted).isEqualTo(3);
      holder.rollback();
      holder.setAutoCommit(true);
    }
  }

  @Test
  void retentionCutoffFollowsTheInjectedClock() throws SQLException {
    MutableClock clock = new MutableClock(Instant.now());
    PollingRelay relay = relay(b -> b.retention(Duration.ofHours(1)).clock(clock));
    write(3);
    relay.drain();
    assertThat(relay.cleanUp()).isZero();

    clock.advance(Duration.ofHours(2));

    assertThat(relay.cleanUp()).isEqualTo(3);
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table))).isZero();
  }

  @Test
  void drainRelaysEveryWaitingRowInBatchesThatGrowWhileFull() throws SQLException {
    PollingRelay relay = relay(b -> b.batchSize(7).maxBatchSize(20));
    List<UUID> written = write(60);

    assertThat(relay.drain()).isEqualTo(60);

    assertThat(publisher.eventIds()).containsExactlyElementsOf(written);
    // Full batches double the next one, up to maxBatchSize: 7, 14, 20, 19 (not full: done).
    assertThat(publisher.batchSizes()).containsExactly(7, 14, 20, 19);
    assertThat(listener.published.get()).isEqualTo(60);

    // Caught up: the next drain starts small again.
    write(3);
    assertThat(relay.drain()).isEqualTo(3);
    assertThat(publisher.batchSizes()).containsExactly(7, 14, 20, 19, 3);
  }

  @Test
  void concurrentBatchesRelayEveryRowExactlyOnce() throws Exception {
    PollingRelay relay =
        relay(
            b -> b.batchSize(5).maxBatchSize(5).concurrency(4).pollInterval(Duration.ofMillis(50)));
    List<UUID> written = write(400);
    start(relay);

    await().atMost(10, SECONDS).until(() -> publisher.eventIds().size() >= 400);
    assertThat(unrelayed()).isZero();
    // Disjoint claims: nothing published twice, nothing missing.
    assertThat(publisher.eventIds())
        .doesNotHaveDuplicates()
        .containsExactlyInAnyOrderElementsOf(written);
  }

  @Test
  void statsReportPendingCountAndOldestAge() throws SQLException {
    MutableClock clock = new MutableClock(Instant.now());
    assertThat(OutboxStats.read(ds, table, clock))
        .isEqualTo(new OutboxStats(0, null, Duration.ZERO, 0));
    write(4);
    long first = db.queryLong("SELECT min(id) FROM " + db.q(table));
    db.execute(
        "UPDATE "
            + db.q(table)
            + " SET created_at = "
            + db.minusSeconds("created_at", 90)
            + " WHERE id = "
            + first);

    OutboxStats stats = OutboxStats.read(ds, table, clock);

    assertThat(stats.pending()).isEqualTo(4);
    assertThat(stats.oldestPendingAge()).isBetween(Duration.ofSeconds(80), Duration.ofSeconds(100));
    assertThat(stats.oldestPendingCreatedAt()).isBefore(clock.instant().minusSeconds(80));
    assertThat(stats.quarantined()).isZero();
  }

  @Test
  void stopMakesRunReturn() throws InterruptedException {
    PollingRelay relay = relay(b -> b.pollInterval(Duration.ofSeconds(30)));
    Instant built = relay.lastLoop();
    Thread t = start(relay);
    await().atMost(5, SECONDS).until(() -> relay.lastLoop().isAfter(built));

    relay.stop();

    t.join(5_000);
    assertThat(t.isAlive()).isFalse();
  }

  @Test
  void interruptStopsRun() throws InterruptedException {
    PollingRelay relay = relay(b -> b.pollInterval(Duration.ofSeconds(30)));
    Instant built = relay.lastLoop();
    Thread t = start(relay);
    await().atMost(5, SECONDS).until(() -> relay.lastLoop().isAfter(built));

    t.interrupt();

    t.join(5_000);
    assertThat(t.isAlive()).isFalse();
  }

  @Test
  void builderRejectsInvalidSettingsNamingThem() {
    assertThatThrownBy(() -> PollingRelay.builder(ds, table, publisher).batchSize(0).build())
        .hasMessageContaining("relay.batchSize");
    assertThatThrownBy(
            () -> PollingRelay.builder(ds, table, publisher).pollInterval(Duration.ZERO).build())
        .hasMessageContaining("relay.pollInterval");
    assertThatThrownBy(
            () ->
                PollingRelay.builder(ds, table, publisher).retention(Duration.ofHours(-1)).build())
        .hasMessageContaining("relay.retention");
    assertThatThrownBy(
            () -> PollingRelay.builder(ds, table, publisher).cleanupInterval(null).build())
        .hasMessageContaining("relay.cleanupInterval");
    assertThatThrownBy(
            () -> PollingRelay.builder(ds, table, publisher).cleanupBatchSize(-5).build())
        .hasMessageContaining("relay.cleanupBatchSize");
    assertThatThrownBy(() -> PollingRelay.builder(null, table, publisher).build())
        .hasMessageContaining("relay.dataSource");
    PollingRelay relay = PollingRelay.builder(ds, table, publisher).build();
    assertThat(relay.table()).isEqualTo(table);
  }

  private PollingRelay relay(Consumer<PollingRelay.Builder> settings) {
    PollingRelay.Builder b = PollingRelay.builder(ds, table, publisher).listener(listener);
    settings.accept(b);
    return b.build();
  }

  Thread start(PollingRelay relay) {
    Thread t = new Thread(relay, "relay-" + running.size());
    running.add(relay);
    threads.add(t);
    t.start();
    return t;
  }

  UUID writeOne(String aggregateId) throws SQLException {
    InvalidationEvent e = Events.event("acme", "order", aggregateId, 1);
    try (Connection c = ds.getConnection()) {
      writer.append(c, e);
    }
    return e.eventId();
  }

  private List<UUID> write(int n) throws SQLException {
    List<InvalidationEvent> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      events.add(Events.event("acme", "order", Integer.toString(i), i));
    }
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      writer.appendAll(c, events);
      c.commit();
      c.setAutoCommit(true);
    }
    return events.stream().map(InvalidationEvent::eventId).toList();
  }

  private long unrelayed() {
    return db.queryLong("SELECT count(*) FROM " + db.q(table) + " WHERE relayed_at IS NULL");
  }

  private static final class CountingListener implements RelayListener {
    final AtomicInteger published = new AtomicInteger();
    final AtomicInteger quarantined = new AtomicInteger();
    final AtomicInteger cleanedUp = new AtomicInteger();
    final List<Throwable> loopErrors = new CopyOnWriteArrayList<>();

    @Override
    public void published(int count, Duration oldestAgeInBatch) {
      published.addAndGet(count);
    }

    @Override
    public void quarantined(int count) {
      quarantined.addAndGet(count);
    }

    @Override
    public void cleanedUp(int count) {
      cleanedUp.addAndGet(count);
    }

    @Override
    public void loopError(Throwable error) {
      loopErrors.add(error);
    }
  }
}
