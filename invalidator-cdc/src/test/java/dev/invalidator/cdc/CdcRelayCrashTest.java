package dev.invalidator.cdc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.outbox.OutboxTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A relay killed with SIGKILL (no clean shutdown, no final offset flush) and started again loses
 * nothing: every committed event is published at least once across the two lives.
 */
class CdcRelayCrashTest {
  private static final Duration WAIT = Duration.ofSeconds(90);

  private OutboxTable table;
  private String sink;
  private Process child;
  private CdcRelay relay;

  @BeforeEach
  void setUp() {
    table = Db.newOutbox();
    sink = "\"public\".\"" + table.table() + "_sink\"";
    Db.execute("CREATE TABLE " + sink + " (event_id uuid NOT NULL)");
  }

  @AfterEach
  void tearDown() {
    if (child != null) {
      child.destroyForcibly();
    }
    if (relay != null) {
      relay.close();
    }
    // The child's slot and publication too, when the test failed before the restart.
    CdcRelay names = CdcRelay.builder(Db.url(), table, new CollectingPublisher()).build();
    names.decommission();
    assertThat(Db.slotExists(names.slotName())).isFalse();
    Db.execute("DROP TABLE IF EXISTS " + sink);
    Db.drop(table);
  }

  @Test
  void killedRelayLosesNothingAfterRestart() throws Exception {
    int blockAfter = 150;
    Path out = Files.createTempFile("cdc-crash-child", ".log");
    child =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Ddebezium.level=" + System.getProperty("crashChild.debeziumLevel", "WARN"),
                "-cp",
                System.getProperty("java.class.path"),
                CrashChild.class.getName(),
                Db.url(),
                table.schema(),
                table.table(),
                sink,
                Integer.toString(blockAfter))
            .redirectErrorStream(true)
            .redirectOutput(out.toFile())
            .start();
    await().atMost(WAIT).until(() -> log(out).contains("STARTED") || !child.isAlive());
    assertThat(child.isAlive()).as("child started, log:\n%s", log(out)).isTrue();

    // Phase 1: 150 events in 15 transactions, published by the child (durably, in its sink)
    // and their offsets committed.
    List<UUID> phase1 = new ArrayList<>();
    for (int i = 0; i < 15; i++) {
      phase1.addAll(Db.writeInOneTransaction(table, Db.events(10)));
    }
    await().atMost(WAIT).until(() -> Db.queryLong("SELECT count(*) FROM " + sink) >= blockAfter);
    await()
        .atMost(WAIT)
        .until(
            () ->
                Db.queryLong(
                        "SELECT count(*) FROM \"public\".\"" + table.table() + "_cdc_offsets\"")
                    > 0);
    // Phase 2: 150 more. The child has published blockAfter events, so it hangs in the first
    // publish of these and never acknowledges them.
    List<UUID> phase2 = new ArrayList<>();
    for (int i = 0; i < 15; i++) {
      phase2.addAll(Db.writeInOneTransaction(table, Db.events(10)));
    }
    List<UUID> committed = new ArrayList<>(phase1);
    committed.addAll(phase2);
    try {
      await().atMost(WAIT).until(() -> log(out).contains("BLOCKED"));
    } catch (org.awaitility.core.ConditionTimeoutException ex) {
      throw new AssertionError(
          "the child never blocked; sessions:\n"
              + String.join(
                  "\n",
                  Db.queryStrings(
                      "SELECT concat_ws(' | ', pid, backend_type, state, wait_event_type,"
                          + " wait_event, backend_xid, left(query, 120)) FROM pg_stat_activity"))
              + "\nslots:\n"
              + String.join(
                  "\n",
                  Db.queryStrings(
                      "SELECT concat_ws(' | ', slot_name, active, active_pid, restart_lsn,"
                          + " confirmed_flush_lsn) FROM pg_replication_slots"))
              + "\nchild log:\n"
              + log(out),
          ex);
    }
    child.destroyForcibly().waitFor();

    Set<UUID> publishedByChild = new HashSet<>();
    Db.queryStrings("SELECT event_id::text FROM " + sink)
        .forEach(s -> publishedByChild.add(UUID.fromString(s)));
    assertThat(publishedByChild).containsExactlyInAnyOrderElementsOf(phase1);

    CollectingPublisher publisher = new CollectingPublisher();
    relay = CdcRelay.builder(Db.url(), table, publisher).build();
    relay.start();
    await()
        .atMost(WAIT)
        .until(
            () -> {
              Set<UUID> all = new HashSet<>(publishedByChild);
              all.addAll(publisher.eventIds());
              return all.containsAll(committed);
            });
    // What the child had received but never acknowledged came from the restarted relay, in
    // commit order.
    assertThat(publisher.eventIds().stream().filter(phase2::contains).distinct())
        .containsExactlyElementsOf(phase2);
  }

  private static String log(Path p) {
    try {
      return Files.readString(p);
    } catch (java.io.IOException ex) {
      return "";
    }
  }
}
