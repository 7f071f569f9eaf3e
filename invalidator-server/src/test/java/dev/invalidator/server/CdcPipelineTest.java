package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.RelayListener;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code relay.mode: cdc} through the daemon's wiring: committed events reach the Redis target
 * through Debezium instead of the polling relay, rows are marked relayed (so status, replay and
 * retention keep working), and the replication slot is removed afterwards.
 */
class CdcPipelineTest {
  @Test
  void cdcModeAppliesCommittedEventsAndMarksThemRelayed() throws Exception {
    try (TestEnv env = new TestEnv(Map.of("relay.mode", "cdc"))) {
      Pipeline pipeline =
          new Pipeline(
              env.cfg,
              env.servers,
              Daemon.Role.ALL,
              WorkerListener.NONE,
              RelayListener.NONE,
              Clock.systemUTC());
      try {
        assertThat(pipeline.relay()).as("no polling relay loop in cdc mode").isNull();
        pipeline.start();
        for (int v = 1; v <= 20; v++) {
          env.commit("acme", "c" + (v % 5), v);
        }
        var redis = env.servers.connection().sync();
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () -> {
                  for (int a = 0; a < 5; a++) {
                    String fence =
                        redis.get(env.keys.fence(new AggregateRef("acme", "account", "c" + a)));
                    long last = a == 0 ? 20 : 15 + a;
                    if (fence == null || Long.parseLong(fence) < last) {
                      return false;
                    }
                  }
                  return true;
                });
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> OutboxStats.read(env.servers.dataSource(), env.table).pending() == 0);
        assertThat(pipeline.cdc().published()).isEqualTo(20);
      } finally {
        pipeline.close();
        pipeline.cdc().decommission();
      }
    }
  }
}
