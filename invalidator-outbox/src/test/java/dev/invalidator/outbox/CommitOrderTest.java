package dev.invalidator.outbox;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidationEvent;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Transactions commit out of id order; an {@code id > lastId} relay would skip the late ones. Two
 * relays run side by side, as two daemons would.
 */
class CommitOrderTest {
  private static final int WRITERS = 8;
  private static final int EVENTS_PER_WRITER = 200;

  final TestDb db = db();
  private final DataSource ds = db.dataSource();
  private final List<PollingRelay> relays = new ArrayList<>();
  private final List<Thread> relayThreads = new ArrayList<>();
  private OutboxTable table;
  private OutboxWriter writer;

  /** The database this suite runs against; {@link MySqlCommitOrderTest} runs it on MariaDB. */
  TestDb db() {
    return TestDb.postgres();
  }

  @BeforeEach
  void setUp() {
    table = db.newOutbox();
    writer = OutboxWriter.create(table);
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    stopRelays();
    db.drop(table);
  }

  @Test
  void twoRelaysPublishEveryCommittedEventExactlyOnceWhateverTheCommitOrder() throws Exception {
    RecordingPublisher a = new RecordingPublisher();
    RecordingPublisher b = new RecordingPublisher();
    startRelay(a);
    startRelay(b);
    Set<UUID> committed = ConcurrentHashMap.newKeySet();

    // The holder takes the lowest id and commits last, after everything else has been relayed.
    Connection holder = ds.getConnection();
    holder.setAutoCommit(false);
    InvalidationEvent held = Events.event("acme", "order", "held", 1);
    writer.append(holder, held);

    ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
    try {
      List<Future<?>> writers = new ArrayList<>();
      for (int w = 0; w < WRITERS; w++) {
        int writerNo = w;
        writers.add(pool.submit(() -> write(writerNo, committed)));
      }
      for (Future<?> f : writers) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(committed).hasSize(WRITERS * EVENTS_PER_WRITER);
    await().atMost(30, SECONDS).until(() -> publishedIds(a, b).containsAll(committed));
    assertThat(publishedIds(a, b)).doesNotContain(held.eventId());

    holder.commit();
    holder.close();
    committed.add(held.eventId());

    await().atMost(5, SECONDS).until(() -> publishedIds(a, b).contains(held.eventId()));
    stopRelays();

    List<EventPublisher.Outgoing> all = new ArrayList<>(a.published());
    all.addAll(b.published());
    assertThat(publishedIds(a, b)).isEqualTo(committed);
    assertThat(all).as("no duplicates: no publish failed").hasSize(committed.size());
    assertThat(all.stream().map(EventPublisher.Outgoing::outboxId).distinct().count())
        .isEqualTo(committed.size());
    assertThat(db.queryLong("SELECT count(*) FROM " + db.q(table) + " WHERE relayed_at IS NULL"))
        .isZero();
    System.out.printf(
        "relay a published %d, relay b published %d%n", a.published().size(), b.published().size());
  }

  /**
   * Negative control: the same out-of-order commit defeats a relay that remembers the last id it
   * saw, while {@link PollingRelay} publishes the late row.
   */
  @Test
  void lateCommitWithLowerIdIsSkippedByAnIdCursorButNotByTheRelay() throws SQLException {
    RecordingPublisher publisher = new RecordingPublisher();
    PollingRelay relay = PollingRelay.builder(ds, table, publisher).build();
    InvalidationEvent held = Events.event("acme", "order", "held", 1);
    try (Connection holder = ds.getConnection()) {
      holder.setAutoCommit(false);
      writer.append(holder, held);
      try (Connection other = ds.getConnection()) {
        writer.append(other, Events.event("acme", "order", "quick", 1)); // auto-commit
      }
      long lastId = maxIdAbove(0);
      assertThat(relay.relayOnce()).isEqualTo(1);

      holder.commit();
      holder.setAutoCommit(true);

      assertThat(maxIdAbove(lastId)).as("an id cursor sees nothing new").isZero();
    }
    assertThat(relay.relayOnce()).isEqualTo(1);
    assertThat(publisher.eventIds()).endsWith(held.eventId());
  }

  private long maxIdAbove(long lastId) {
    return db.queryLong(
        "SELECT coalesce(max(id), 0) FROM " + db.q(table) + " WHERE id > " + lastId);
  }

  /**
   * Each round opens two transactions, appends in the first (lower id), then in the second, and
   * commits the second first: commits out of id order on every round.
   */
  private Void write(int writerNo, Set<UUID> committed) throws SQLException {
    try (Connection first = ds.getConnection();
        Connection second = ds.getConnection()) {
      first.setAutoCommit(false);
      second.setAutoCommit(false);
      for (int i = 0; i < EVENTS_PER_WRITER / 2; i++) {
        InvalidationEvent early = Events.event("t" + writerNo, "order", "e" + i, i);
        InvalidationEvent late = Events.event("t" + writerNo, "order", "l" + i, i);
        writer.append(first, early);
        writer.append(second, late);
        second.commit();
        committed.add(late.eventId());
        first.commit();
        committed.add(early.eventId());
      }
      first.setAutoCommit(true);
      second.setAutoCommit(true);
    }
    return null;
  }

  private void startRelay(RecordingPublisher publisher) {
    PollingRelay relay =
        PollingRelay.builder(ds, table, publisher)
            .batchSize(20)
            .pollInterval(Duration.ofSeconds(1))
            .build();
    Thread t = new Thread(relay, "relay-" + relays.size());
    relays.add(relay);
    relayThreads.add(t);
    t.start();
  }

  private void stopRelays() throws InterruptedException {
    relays.forEach(PollingRelay::stop);
    for (Thread t : relayThreads) {
      t.join(10_000);
      assertThat(t.isAlive()).isFalse();
    }
  }

  private static Set<UUID> publishedIds(RecordingPublisher a, RecordingPublisher b) {
    Set<UUID> ids = new HashSet<>(a.eventIds());
    ids.addAll(b.eventIds());
    return ids;
  }
}
