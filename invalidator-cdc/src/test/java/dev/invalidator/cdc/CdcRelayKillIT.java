package dev.invalidator.cdc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.outbox.OutboxTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The CDC relay killed with SIGKILL again and again while writers commit: a relay in a child JVM
 * ({@link CrashChild}, whose publisher records every published event durably in a sink table) is
 * killed at a random moment (while starting, snapshotting or streaming), a new one started on the
 * same slot, {@code invalidator.cdc.kills} times (5; 50 with {@code -Dinvalidator.soak=true} or
 * {@code INVALIDATOR_SOAK=1}, the fault suite's flag). Then a last relay drains. Every committed
 * event must be in the sink (0 missing); duplicates (published by a killed relay whose offsets were
 * not committed yet) are counted and reported.
 */
class CdcRelayKillIT {
  private static final boolean SOAK =
      Boolean.getBoolean("invalidator.soak") || "1".equals(System.getenv("INVALIDATOR_SOAK"));
  private static final int KILLS = Integer.getInteger("invalidator.cdc.kills", SOAK ? 50 : 5);
  private static final Duration WAIT = Duration.ofSeconds(120);

  private OutboxTable table;
  private String sink;
  private Process child;
  private CdcRelay last;

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
    if (last != null) {
      last.close();
    }
    CdcRelay names = CdcRelay.builder(Db.url(), table, new CollectingPublisher()).build();
    names.decommission();
    Db.execute("DROP TABLE IF EXISTS " + sink);
    Db.drop(table);
  }

  private static int occurrences(Path log, String word) {
    try {
      return (int) Files.readAllLines(log).stream().filter(word::equals).count();
    } catch (java.io.IOException ex) {
      return 0;
    }
  }

  private Process spawn(Path out) throws java.io.IOException {
    return new ProcessBuilder(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Ddebezium.level=WARN",
            "-cp",
            System.getProperty("java.class.path"),
            CrashChild.class.getName(),
            Db.url(),
            table.schema(),
            table.table(),
            sink,
            Integer.toString(Integer.MAX_VALUE))
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(out.toFile()))
        .start();
  }

  @Test
  void relayKilledRepeatedlyWhileWritersCommitMissesNoEvent() throws Exception {
    List<UUID> committed = java.util.Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean writing = new AtomicBoolean(true);
    Thread writer =
        new Thread(
            () -> {
              ThreadLocalRandom r = ThreadLocalRandom.current();
              while (writing.get()) {
                committed.addAll(Db.writeInOneTransaction(table, Db.events(1 + r.nextInt(5))));
                try {
                  Thread.sleep(r.nextInt(5, 30)); // pacing the load, not waiting for a result
                } catch (InterruptedException ex) {
                  return;
                }
              }
            },
            "writer");
    writer.start();
    Path out = Files.createTempFile("cdc-kill-child", ".log");
    int killedStreaming = 0;
    long started = System.nanoTime();
    try {
      for (int i = 0; i < KILLS; i++) {
        long sinkBefore = Db.queryLong("SELECT count(*) FROM " + sink);
        int startedBefore = occurrences(out, "STARTED");
        child = spawn(out);
        if (i % 2 == 0) {
          // Killed at a random moment of its start (slot, snapshot, first batches).
          Thread.sleep(ThreadLocalRandom.current().nextLong(500, 5_000));
        } else {
          // Killed while streaming: once it published, a moment later.
          await().atMost(WAIT).until(() -> occurrences(out, "STARTED") > startedBefore);
          await()
              .atMost(WAIT)
              .until(() -> Db.queryLong("SELECT count(*) FROM " + sink) > sinkBefore);
          Thread.sleep(ThreadLocalRandom.current().nextLong(100, 1_500));
        }
        if (Db.queryLong("SELECT count(*) FROM " + sink) > sinkBefore) {
          killedStreaming++;
        }
        child.destroyForcibly().waitFor();
        child = null;
      }
    } finally {
      writing.set(false);
      writer.join();
    }
    List<UUID> all = List.copyOf(committed);

    // A last relay drains what the killed ones left, into the same sink.
    EventPublisher toSink =
        batch -> {
          try (Connection c = Db.dataSource().getConnection();
              PreparedStatement ps =
                  c.prepareStatement("INSERT INTO " + sink + " (event_id) VALUES (?)")) {
            for (EventPublisher.Outgoing o : batch) {
              ps.setObject(1, o.event().eventId());
              ps.addBatch();
            }
            ps.executeBatch();
          } catch (SQLException ex) {
            throw new IllegalStateException(ex);
          }
        };
    last = CdcRelay.builder(Db.url(), table, toSink).build();
    last.start();
    Set<UUID> expected = new HashSet<>(all);
    await()
        .atMost(WAIT)
        .until(
            () -> {
              Set<UUID> seen = new HashSet<>();
              Db.queryStrings("SELECT event_id::text FROM " + sink)
                  .forEach(s -> seen.add(UUID.fromString(s)));
              return seen.containsAll(expected);
            });
    long rows = Db.queryLong("SELECT count(*) FROM " + sink);
    long distinct = Db.queryLong("SELECT count(DISTINCT event_id) FROM " + sink);
    System.out.printf(
        "CDC kill test: %d kills (%d after the child had published), %d events committed by the"
            + " writer in %d s, 0 missing, %d duplicates (%d published rows)%n",
        KILLS,
        killedStreaming,
        all.size(),
        Duration.ofNanos(System.nanoTime() - started).toSeconds(),
        rows - distinct,
        rows);
    assertThat(distinct).as("nothing published that was not committed").isEqualTo(all.size());
    assertThat(last.state()).isEqualTo(CdcRelay.State.STREAMING);
  }
}
