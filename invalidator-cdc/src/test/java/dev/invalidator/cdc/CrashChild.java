package dev.invalidator.cdc;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.outbox.OutboxTable;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The relay process that {@link CdcRelayCrashTest} kills with SIGKILL. Its publisher is durable (a
 * row per event in a sink table, committed before {@code publish} returns), so the test knows
 * exactly what this process published before it died. Once it has published {@code blockAfter}
 * events, its next publish call blocks forever without writing: that batch is never acknowledged,
 * as in a relay killed between receiving a batch and finishing its publish.
 *
 * <p>Arguments: jdbcUrl schema table sinkTable blockAfter.
 */
public final class CrashChild {
  private CrashChild() {}

  public static void main(String[] args) throws Exception {
    String url = args[0];
    OutboxTable table = OutboxTable.of(args[1], args[2]);
    String sink = args[3];
    int blockAfter = Integer.parseInt(args[4]);
    Connection c = DriverManager.getConnection(url);
    EventPublisher publisher =
        new EventPublisher() {
          private int published;

          @Override
          public synchronized void publish(List<Outgoing> batch) {
            if (published >= blockAfter) {
              System.out.println("BLOCKED");
              System.out.flush();
              try {
                new CountDownLatch(1).await(); // until SIGKILL
              } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(ex);
              }
            }
            try (PreparedStatement ps =
                c.prepareStatement("INSERT INTO " + sink + " (event_id) VALUES (?)")) {
              for (Outgoing o : batch) {
                ps.setObject(1, o.event().eventId());
                ps.addBatch();
              }
              ps.executeBatch();
            } catch (SQLException ex) {
              throw new IllegalStateException(ex);
            }
            published += batch.size();
            System.out.println("PUBLISHED " + published);
            System.out.flush();
          }
        };
    // Offsets committed after every batch: a relay that committed a batch's offsets before its
    // publish returned would lose the batch this process is killed in.
    CdcRelay relay =
        CdcRelay.builder(url, table, publisher).offsetFlushInterval(Duration.ofMillis(1)).build();
    relay.start();
    System.out.println("STARTED");
    System.out.flush();
    new CountDownLatch(1).await(); // until SIGKILL
  }
}
