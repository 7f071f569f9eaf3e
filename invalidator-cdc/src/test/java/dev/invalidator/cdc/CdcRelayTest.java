package dev.invalidator.cdc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.core.Payload;
import dev.invalidator.core.TraceContext;
import dev.invalidator.outbox.OutboxTable;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CdcRelayTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private OutboxTable table;
  private CollectingPublisher publisher;
  private final List<CdcRelay> relays = new ArrayList<>();

  @BeforeEach
  void setUp() {
    table = Db.newOutbox();
    publisher = new CollectingPublisher();
  }

  @AfterEach
  void tearDown() {
    // Close every relay first: two relays of one test share a slot.
    relays.forEach(CdcRelay::close);
    for (CdcRelay r : relays) {
      r.decommission();
      assertThat(Db.slotExists(r.slotName())).as("slot %s dropped", r.slotName()).isFalse();
    }
    Db.drop(table);
  }

  private CdcRelay start(UnaryOperator<CdcRelay.Builder> settings) {
    CdcRelay relay =
        settings
            .apply(
                CdcRelay.builder(Db.url(), table, publisher)
                    .offsetFlushInterval(Duration.ofMillis(200))
                    .backoff(new Backoff(Duration.ofMillis(10), Duration.ofMillis(100))))
            .build();
    relays.add(relay);
    relay.start();
    return relay;
  }

  private long relayedRows() {
    return Db.queryLong(
        "SELECT count(*) FROM " + table.qualified() + " WHERE relayed_at IS NOT NULL");
  }

  @Test
  void insertsCommittedInOneTransactionArePublishedMappedAndMarkedRelayed() {
    CdcRelay relay = start(b -> b);
    InvalidationEvent traced =
        InvalidationEvent.builder()
            .tenant("acme")
            .aggregate("order", "42")
            .version(7)
            .eventType("order.paid")
            .payload(new Payload(List.of("summary"), List.of("orders"), List.of("cdn-orders")))
            .trace(
                TraceContext.of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v"))
            .build();
    List<UUID> ids =
        Db.writeInOneTransaction(table, List.of(traced, Db.event("43", 1), Db.event("44", 2)));

    await().atMost(WAIT).until(() -> publisher.published().size() >= 3);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(ids);
    InvalidationEvent e = publisher.published().get(0).event();
    assertThat(e.eventId()).isEqualTo(traced.eventId());
    assertThat(e.aggregate()).isEqualTo(traced.aggregate());
    assertThat(e.aggregateVersion()).isEqualTo(7);
    assertThat(e.eventType()).isEqualTo("order.paid");
    assertThat(e.payload()).isEqualTo(traced.payload());
    assertThat(e.trace()).isEqualTo(traced.trace());
    assertThat(e.createdAt()).isNotNull();
    assertThat(publisher.published().get(0).outboxId())
        .isEqualTo(Db.queryLong("SELECT min(id) FROM " + table.qualified()));
    // The counter moves after the marks commit.
    await().atMost(WAIT).until(() -> relay.published() >= 3);
    assertThat(relayedRows()).isEqualTo(3);
    assertThat(relay.published()).isEqualTo(3);
    assertThat(relay.quarantined()).isZero();
  }

  @Test
  void tracedEventGetsAPublishSpanChildOfTheWritersSpanAndAnUntracedOneNone() {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    OpenTelemetrySdk otel =
        OpenTelemetrySdk.builder()
            .setTracerProvider(
                SdkTracerProvider.builder()
                    .addSpanProcessor(SimpleSpanProcessor.create(exporter))
                    .build())
            .build();
    start(b -> b.spans(MessagingSpans.create(otel, "redis")));
    InvalidationEvent traced =
        InvalidationEvent.builder()
            .tenant("acme")
            .aggregate("order", "1")
            .version(1)
            .trace(TraceContext.of("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", null))
            .build();
    Db.writeInOneTransaction(table, List.of(traced, Db.event("2", 1)));

    await().atMost(WAIT).until(() -> publisher.published().size() >= 2);
    await().atMost(WAIT).until(() -> !exporter.getFinishedSpanItems().isEmpty());
    List<SpanData> spans = exporter.getFinishedSpanItems();
    assertThat(spans).hasSize(1);
    SpanData span = spans.get(0);
    assertThat(span.getKind()).isEqualTo(SpanKind.PRODUCER);
    assertThat(span.getTraceId()).isEqualTo("0af7651916cd43dd8448eb211c80319c");
    assertThat(span.getParentSpanId()).isEqualTo("b7ad6b7169203331");
    assertThat(span.getAttributes().get(MessagingSpans.EVENT_ID))
        .isEqualTo(traced.eventId().toString());
    otel.close();
  }

  @Test
  void rolledBackInsertsAreNeverPublished() throws SQLException {
    start(b -> b);
    UUID rolledBack;
    try (Connection c = Db.dataSource().getConnection()) {
      c.setAutoCommit(false);
      InvalidationEvent e = Db.event("1", 1);
      rolledBack = e.eventId();
      dev.invalidator.outbox.OutboxWriter.create(table).append(c, e);
      c.rollback();
    }
    // A row committed after the rolled-back one: once it is out, the other would have been too.
    List<UUID> committed = Db.writeInOneTransaction(table, List.of(Db.event("2", 1)));

    await().atMost(WAIT).until(() -> publisher.eventIds().containsAll(committed));
    assertThat(publisher.eventIds()).containsExactlyElementsOf(committed);
    assertThat(publisher.eventIds()).doesNotContain(rolledBack);
  }

  @Test
  void concurrentTransactionsArePublishedInCommitOrderNotIdOrder() throws SQLException {
    start(b -> b);
    InvalidationEvent first = Db.event("a", 1);
    InvalidationEvent second = Db.event("b", 1);
    try (Connection a = Db.dataSource().getConnection();
        Connection b = Db.dataSource().getConnection()) {
      a.setAutoCommit(false);
      b.setAutoCommit(false);
      var writer = dev.invalidator.outbox.OutboxWriter.create(table);
      writer.append(a, first); // the lower id
      writer.append(b, second); // the higher id
      b.commit(); // ...but commits first
      a.commit();
    }
    assertThat(Db.queryStrings("SELECT event_id::text FROM " + table.qualified() + " ORDER BY id"))
        .containsExactly(first.eventId().toString(), second.eventId().toString());

    await().atMost(WAIT).until(() -> publisher.published().size() >= 2);
    assertThat(publisher.eventIds()).containsExactly(second.eventId(), first.eventId());
  }

  @Test
  void malformedRowsAreQuarantinedLikeThePollingRelayAndDoNotBlockLaterRows() {
    CdcRelay relay = start(b -> b);
    Db.execute(
        "INSERT INTO "
            + table.qualified()
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type)"
            + " VALUES (gen_random_uuid(), 'a{b', 'order', '1', 1, 'changed')",
        "INSERT INTO "
            + table.qualified()
            + " (event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type,"
            + " payload) VALUES (gen_random_uuid(), 'acme', 'order', '2', 1, 'changed',"
            + " '{\"views\": [1]}')");
    List<UUID> valid = Db.writeInOneTransaction(table, Db.events(2));

    await().atMost(WAIT).until(() -> publisher.published().size() >= 2 && relay.quarantined() >= 2);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(valid);
    assertThat(relay.quarantined()).isEqualTo(2);
    assertThat(relayedRows()).isEqualTo(4);
    List<String> errors =
        Db.queryStrings(
            "SELECT relay_error FROM "
                + table.qualified()
                + " WHERE relay_error IS NOT NULL AND relayed_at IS NOT NULL ORDER BY id");
    assertThat(errors).hasSize(2);
    assertThat(errors.get(0)).startsWith("tenant_id").contains("'{'");
    assertThat(errors.get(1)).startsWith("payload.views");
    assertThat(
            Db.queryLong(
                "SELECT count(*) FROM " + table.qualified() + " WHERE relay_error IS NOT NULL"))
        .isEqualTo(2);
  }

  @Test
  void failingPublishIsRetriedUntilItSucceedsAndSkipsNothing() {
    CdcRelay relay = start(b -> b);
    publisher.failNext(3);
    List<UUID> ids = Db.writeInOneTransaction(table, Db.events(5));
    List<UUID> later = Db.writeInOneTransaction(table, Db.events(2));

    await().atMost(WAIT).until(() -> publisher.published().size() >= 7);
    List<UUID> all = new ArrayList<>(ids);
    all.addAll(later);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(all);
    assertThat(publisher.calls()).isGreaterThanOrEqualTo(4);
    assertThat(relay.errors()).isGreaterThanOrEqualTo(3);
  }

  @Test
  void firstStartSnapshotsOnlyUnrelayedRowsThenStreams() {
    List<UUID> relayedByPolling = Db.writeInOneTransaction(table, Db.events(3));
    Db.execute("UPDATE " + table.qualified() + " SET relayed_at = now()");
    List<UUID> backlog = Db.writeInOneTransaction(table, Db.events(4));

    start(b -> b);
    List<UUID> streamed = Db.writeInOneTransaction(table, Db.events(2));

    await().atMost(WAIT).until(() -> publisher.published().size() >= 6);
    List<UUID> expected = new ArrayList<>(backlog);
    expected.addAll(streamed);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(expected);
    assertThat(publisher.eventIds()).doesNotContainAnyElementsOf(relayedByPolling);
  }

  @Test
  void cleanRestartResumesFromStoredOffsetsWithoutASecondSnapshot() {
    CdcRelay first = start(b -> b);
    List<UUID> before = Db.writeInOneTransaction(table, Db.events(3));
    await().atMost(WAIT).until(() -> publisher.published().size() >= 3);
    first.close();
    List<UUID> whileDown = Db.writeInOneTransaction(table, Db.events(2));

    start(b -> b);
    await().atMost(WAIT).until(() -> publisher.published().size() >= 5);
    List<UUID> expected = new ArrayList<>(before);
    expected.addAll(whileDown);
    // Offsets were committed on close: nothing twice, nothing missing.
    assertThat(publisher.eventIds()).containsExactlyElementsOf(expected);
    assertThat(
            Db.queryLong("SELECT count(*) FROM \"public\".\"" + table.table() + "_cdc_offsets\""))
        .isEqualTo(1);
  }

  @Test
  void backlogDrainReportsEventsPerSecondAndRemovesItsSlot() throws Exception {
    int n = 2_000;
    for (int i = 0; i < n; i += 500) {
      Db.writeInOneTransaction(table, Db.events(500));
    }
    CdcBacklogDrain.Result result =
        CdcBacklogDrain.drain(Db.url(), table, publisher, n, false, WAIT);

    assertThat(result.events()).isEqualTo(n);
    assertThat(publisher.eventIds()).doesNotHaveDuplicates().hasSize(n);
    assertThat(result.eventsPerSecond()).isPositive();
    assertThat(result.untilFirstEvent()).isPositive().isLessThanOrEqualTo(result.elapsed());
    assertThat(relayedRows()).isZero();
    assertThat(
            Db.queryLong(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'inv_drain_%' AND NOT active"))
        .isZero();
  }

  @Test
  void startFailsNamingWalLevelWhenTheServerIsNotLogical() throws Exception {
    // A server of its own with PostgreSQL's default wal_level (replica).
    try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
      String url = pg.getJdbcUrl("postgres", "postgres");
      try (Connection c = pg.getPostgresDatabase().getConnection();
          Statement s = c.createStatement();
          var rs = s.executeQuery("SHOW wal_level")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("replica");
      }
      CdcRelay relay = CdcRelay.builder(url, table, publisher).build();
      assertThatThrownBy(relay::start)
          .isInstanceOf(InvalidatorException.class)
          .hasMessageContaining("wal_level = logical")
          .hasMessageContaining("wal_level = replica")
          .hasMessageContaining("ALTER SYSTEM SET wal_level = logical")
          .hasMessageContaining("restart PostgreSQL");
      relay.close();
    }
  }

  @Test
  void slotHealthShowsTheSlotActiveWhileRunningAndGoneAfterDecommission() {
    CdcRelay relay =
        CdcRelay.builder(Db.url(), table, publisher)
            .offsetFlushInterval(Duration.ofMillis(200))
            .build();
    relays.add(relay);
    assertThat(relay.slotHealth().exists()).isFalse();
    relay.start();
    // start() returns once the slot exists; streaming begins after the first start's snapshot.
    assertThat(relay.slotHealth().exists()).isTrue();
    await().atMost(WAIT).until(() -> relay.slotHealth().active());
    SlotHealth running = relay.slotHealth();
    assertThat(running.slotName()).isEqualTo(relay.slotName());
    assertThat(running.retainedWalBytes()).isNotNegative();
    assertThat(running.unconfirmedBytes()).isNotNegative();

    relay.close();
    // The walsender exits shortly after the relay disconnects.
    await().atMost(WAIT).until(() -> !relay.slotHealth().active());
    assertThat(relay.slotHealth().exists()).isTrue();
    relay.decommission();
    assertThat(relay.slotHealth().exists()).isFalse();
  }

  /** Stops the walsender streaming from {@code slot} and drops the slot, as an operator might. */
  private static void dropSlotUnderTheRelay(String slot) {
    Db.execute(
        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '"
            + slot
            + "' AND active_pid IS NOT NULL");
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(20))
        .until(
            () -> {
              try {
                Db.execute(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                        + " WHERE slot_name = '"
                        + slot
                        + "' AND NOT active");
              } catch (IllegalStateException raced) {
                // active again in between (55006): try again
              }
              return !Db.slotExists(slot);
            });
  }

  private long storedOffsets() {
    return Db.queryLong(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = '"
                    + table.table()
                    + "_cdc_offsets'")
            == 0
        ? 0
        : Db.queryLong("SELECT count(*) FROM \"public\".\"" + table.table() + "_cdc_offsets\"");
  }

  @Test
  void slotRecreatedUnderARunningRelayStopsItLoudlyNamingTheGap() {
    // A slow restart backoff: the drop and re-creation happen before the relay's next attempt.
    CdcRelay relay =
        start(b -> b.backoff(new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(2))));
    List<UUID> before = Db.writeInOneTransaction(table, Db.events(3));
    await().atMost(WAIT).until(() -> relay.published() >= 3 && storedOffsets() > 0);

    dropSlotUnderTheRelay(relay.slotName());
    // Committed while no slot exists: no slot created later can deliver these.
    List<UUID> inTheGap = Db.writeInOneTransaction(table, Db.events(2));
    Db.execute("SELECT pg_create_logical_replication_slot('" + relay.slotName() + "', 'pgoutput')");
    List<UUID> afterRecreation = Db.writeInOneTransaction(table, Db.events(2));

    await().atMost(Duration.ofSeconds(30)).until(() -> relay.state() == CdcRelay.State.FAILED);
    assertThat(relay.failure())
        .contains("replication slot " + relay.slotName())
        .contains("re-created or advanced")
        .contains("invalidator cdc reset")
        .contains(table.table() + "_cdc_offsets");
    // Not resumed past the gap: nothing of it was published, and nobody streams from the slot.
    assertThat(publisher.eventIds()).containsExactlyElementsOf(before);
    assertThat(publisher.eventIds()).doesNotContainAnyElementsOf(inTheGap);
    assertThat(publisher.eventIds()).doesNotContainAnyElementsOf(afterRecreation);
    assertThat(relay.slotHealth().active()).isFalse();
  }

  /**
   * What a running relay does between two reads of a check: stores its offsets at a new WAL
   * position, then confirms it to the slot (here with {@code pg_replication_slot_advance}, as the
   * relay is closed).
   */
  private void relayCommitsAndConfirms(String slot) {
    // The message's own position: pg_current_wal_lsn() is where WAL was last written out, which
    // on a server whose commits do not wait for the flush (the embedded one) may not have moved
    // since the previous call, and then nothing was advanced (the negative control failed there).
    String lsn = Db.queryStrings("SELECT pg_logical_emit_message(false, 'x', '')::text").get(0);
    Db.execute(
        "UPDATE \"public\".\""
            + table.table()
            + "_cdc_offsets\" SET offset_val = regexp_replace(offset_val,"
            + " '(\"(lsn|lsn_commit|lsn_proc)\"\\s*:\\s*)\\d+', '\\1' ||"
            + " pg_wal_lsn_diff('"
            + lsn
            + "', '0/0')::bigint::text, 'g')");
    // A slot advances only as far as the WAL is flushed (the embedded server's commits may not
    // wait for the flush).
    await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(20))
        .until(
            () ->
                Db.queryLong(
                        "SELECT count(*) WHERE pg_current_wal_flush_lsn() >= '" + lsn + "'::pg_lsn")
                    > 0);
    Db.execute("SELECT pg_replication_slot_advance('" + slot + "', '" + lsn + "')");
    assertThat(confirmedReached(slot, lsn)).as("slot confirmed at " + lsn).isTrue();
  }

  /**
   * The slot check reads the slot before the offsets: an offset commit and its confirmation that
   * land between the two reads (a relay still streaming while another checks, or {@code cdc status}
   * on a running relay) must not look like a slot advanced past the offsets. Negative control: the
   * old order (offsets first) reports that false gap.
   */
  @Test
  void slotCheckRacingAnOffsetCommitReportsNoFalseGapAndTheOldOrderDoes() throws Exception {
    CdcRelay relay = start(b -> b);
    Db.writeInOneTransaction(table, Db.events(3));
    await().atMost(WAIT).until(() -> relay.published() >= 3 && storedOffsets() > 0);
    relay.close();
    String slot = relay.slotName();
    await().atMost(WAIT).until(() -> !relay.slotHealth().active());
    String before = relay.storedPosition();
    assertThat(relay.slotGap()).isNull();

    assertThat(relay.slotGap(false, () -> relayCommitsAndConfirms(slot))).isNull();
    assertThat(relay.storedPosition()).isNotEqualTo(before);

    String falseGap = relay.slotGap(true, () -> relayCommitsAndConfirms(slot));
    assertThat(falseGap).as("the old order's false gap").contains("re-created or advanced");
    // Nothing is wrong with the slot: read again, in either order, it is resumable.
    assertThat(relay.slotGap()).isNull();
    assertThat(relay.slotGap(true, () -> {})).isNull();
    assertThat(relay.slotProblem()).isNull();
  }

  @Test
  void startRefusesStoredOffsetsWhoseSlotIsGone() {
    CdcRelay first = start(b -> b);
    Db.writeInOneTransaction(table, Db.events(2));
    await().atMost(WAIT).until(() -> first.published() >= 2);
    first.close();
    dropSlotUnderTheRelay(first.slotName());

    CdcRelay second = CdcRelay.builder(Db.url(), table, publisher).build();
    relays.add(second);
    assertThatThrownBy(second::start)
        .isInstanceOf(InvalidatorException.class)
        .hasMessageContaining("replication slot " + second.slotName() + " does not exist")
        .hasMessageContaining("invalidator cdc reset");
    assertThat(second.state()).isEqualTo(CdcRelay.State.FAILED);
    // The connector would have created it again: the check runs before the engine starts.
    assertThat(Db.slotExists(second.slotName())).isFalse();
  }

  /**
   * Writes WAL through another table while the outbox stays idle; returns the WAL position after
   * it.
   */
  private String writeWalElsewhere(String other) {
    Db.execute(
        "CREATE TABLE " + other + " (id bigint, pad text)",
        "INSERT INTO " + other + " SELECT g, repeat('x', 200) FROM generate_series(1, 2000) g");
    return Db.queryStrings("SELECT pg_current_wal_lsn()::text").get(0);
  }

  private boolean confirmedReached(String slot, String lsn) {
    return Db.queryLong(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '"
                + slot
                + "' AND confirmed_flush_lsn >= '"
                + lsn
                + "'::pg_lsn")
        > 0;
  }

  @Test
  void heartbeatsMoveTheSlotOnWhileTheOutboxIsIdleAndOtherTablesWriteWal() {
    CdcRelay relay =
        start(
            b ->
                b.heartbeatInterval(Duration.ofMillis(300))
                    .offsetFlushInterval(Duration.ofMillis(200)));
    Db.writeInOneTransaction(table, Db.events(1));
    await().atMost(WAIT).until(() -> relay.published() >= 1);
    long rows = Db.queryLong("SELECT count(*) FROM " + table.qualified());
    String other = Db.randomName("cdc_other_");
    try {
      String after = writeWalElsewhere(other);
      await().atMost(WAIT).until(() -> confirmedReached(relay.slotName(), after));
      assertThat(Db.queryLong("SELECT count(*) FROM " + table.qualified())).isEqualTo(rows);
      assertThat(relay.slotHealth().unconfirmedBytes()).isLessThan(1_000_000);
      assertThat(relay.lastActivity()).isNotNull();
    } finally {
      Db.execute("DROP TABLE IF EXISTS " + other);
    }
  }

  @Test
  void withoutHeartbeatsAnIdleOutboxPinsTheWalOtherTablesWrite() {
    // Negative control of the test above: the slot stays behind when no heartbeat comes.
    CdcRelay relay =
        start(
            b ->
                b.heartbeatInterval(Duration.ofHours(1))
                    .offsetFlushInterval(Duration.ofMillis(200)));
    Db.writeInOneTransaction(table, Db.events(1));
    await().atMost(WAIT).until(() -> relay.published() >= 1);
    String other = Db.randomName("cdc_other_");
    try {
      String after = writeWalElsewhere(other);
      await()
          .during(Duration.ofSeconds(5))
          .atMost(Duration.ofSeconds(10))
          .until(() -> !confirmedReached(relay.slotName(), after));
    } finally {
      Db.execute("DROP TABLE IF EXISTS " + other);
    }
  }

  @Test
  void secondRelayOfTheSlotStandsByAndTakesOverWhenTheFirstStops() {
    CdcRelay first = start(b -> b);
    CollectingPublisher secondPublisher = new CollectingPublisher();
    CdcRelay second =
        CdcRelay.builder(Db.url(), table, secondPublisher)
            .offsetFlushInterval(Duration.ofMillis(200))
            .standbyPollInterval(Duration.ofMillis(200))
            .backoff(new Backoff(Duration.ofMillis(10), Duration.ofMillis(100)))
            .build();
    relays.add(second);
    second.start(); // returns at once: standing by
    assertThat(second.state()).isEqualTo(CdcRelay.State.STANDBY);
    assertThat(first.state()).isEqualTo(CdcRelay.State.STREAMING);

    List<UUID> whileFirst = Db.writeInOneTransaction(table, Db.events(3));
    await().atMost(WAIT).until(() -> publisher.published().size() >= 3);
    assertThat(publisher.eventIds()).containsExactlyElementsOf(whileFirst);
    assertThat(second.state()).isEqualTo(CdcRelay.State.STANDBY);
    assertThat(secondPublisher.published()).isEmpty();

    first.close();
    long stopped = System.nanoTime();
    await().atMost(WAIT).until(() -> second.state() == CdcRelay.State.STREAMING);
    Duration takeover = Duration.ofNanos(System.nanoTime() - stopped);
    List<UUID> afterTakeover = Db.writeInOneTransaction(table, Db.events(2));
    await().atMost(WAIT).until(() -> secondPublisher.eventIds().containsAll(afterTakeover));
    // Resumed from the first relay's offsets: nothing of its share again.
    assertThat(secondPublisher.eventIds()).containsExactlyElementsOf(afterTakeover);
    assertThat(takeover).isLessThan(Duration.ofSeconds(30));
  }

  @Test
  void cleanCloseReleasesTheSlotWithinFiveSeconds() {
    for (int round = 0; round < 2; round++) {
      CdcRelay relay = start(b -> b);
      Db.writeInOneTransaction(table, Db.events(2));
      await().atMost(WAIT).until(() -> relay.published() >= 2 && relay.slotHealth().active());

      long t0 = System.nanoTime();
      relay.close();
      Duration closing = Duration.ofNanos(System.nanoTime() - t0);
      await()
          .atMost(Duration.ofSeconds(5))
          .pollInterval(Duration.ofMillis(20))
          .until(() -> !relay.slotHealth().active());
      Duration released = Duration.ofNanos(System.nanoTime() - t0);
      System.out.printf(
          "round %d: close() returned after %d ms, slot inactive after %d ms%n",
          round, closing.toMillis(), released.toMillis());
      assertThat(closing).isLessThan(Duration.ofSeconds(5));
      assertThat(relay.state()).isEqualTo(CdcRelay.State.STOPPED);
    }
  }

  @Test
  void builderRejectsBadNamesNamingTheSetting() {
    assertThatThrownBy(
            () -> CdcRelay.builder(Db.url(), table, publisher).slotName("Bad-Slot").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cdc.slotName");
    assertThatThrownBy(() -> CdcRelay.builder("jdbc:mysql://x/y", table, publisher).build())
        .hasMessageContaining("cdc.jdbcUrl");
    assertThat(CdcRelay.defaultSlotName(table)).isEqualTo(table.table() + "_cdc_slot");
    assertThat(CdcRelay.defaultPublicationName(table)).isEqualTo(table.table() + "_cdc_pub");
  }
}
