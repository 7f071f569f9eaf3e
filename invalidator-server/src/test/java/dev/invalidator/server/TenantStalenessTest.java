package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.Delivery;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.server.observe.InvalidatorMetrics;
import dev.invalidator.server.observe.MetricsSampler;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code invalidator_tenant_staleness_seconds}: an event counts as not applied while its outbox row
 * is unrelayed, while its stream entry is undelivered and while it is pending (delivered, not
 * acknowledged); only the acknowledgement after the apply brings the tenant back to 0. Tenants not
 * listed share the {@code other} series.
 */
class TenantStalenessTest {
  private TestEnv env;
  private InvalidatorMetrics metrics;
  private MetricsSampler sampler;
  private RedisStreamSource consumer;
  private RedisStreamSource stats;
  private Pipeline relayOnly;

  @BeforeEach
  void setUp() {
    env = new TestEnv(Map.of("observability.tenants", "acme,globex"));
    KeyScheme keys = env.keys;
    metrics =
        new InvalidatorMetrics(List.of("redis"), List.of("acme", "globex"), Clock.systemUTC());
    consumer =
        RedisStreamSource.builder(env.servers.redis(), keys)
            .group(env.cfg.worker().group())
            .consumer("test-consumer")
            .build();
    stats =
        RedisStreamSource.builder(env.servers.redis(), keys)
            .group(env.cfg.worker().group())
            .consumer("stats")
            .build();
    sampler =
        new MetricsSampler(
            metrics,
            env.servers.dataSource(),
            env.table,
            stats::stats,
            new RedisDeadLetters(env.servers.connection(), keys),
            env.servers.connection(),
            keys.stream(),
            env.cfg.worker().group(),
            Clock.systemUTC());
    relayOnly =
        new Pipeline(
            env.cfg,
            env.servers,
            Daemon.Role.RELAY,
            dev.invalidator.core.WorkerListener.NONE,
            dev.invalidator.outbox.RelayListener.NONE,
            Clock.systemUTC());
  }

  @AfterEach
  void tearDown() throws Exception {
    relayOnly.close();
    sampler.close();
    consumer.close();
    stats.close();
    metrics.close();
    env.close();
  }

  @Test
  void stalenessGrowsUntilTheEventIsAcknowledgedAndThenDropsToZero() throws Exception {
    consumer.ensureGroup();
    env.commit("acme", "a1", 1);

    // 1. Unrelayed outbox row.
    sampler.sampleOnce();
    double unrelayed = staleness("acme");
    assertThat(unrelayed).isGreaterThan(0);
    assertThat(staleness("globex")).isZero();
    assertThat(staleness("other")).isZero();
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(() -> assertThat(staleness("acme")).isGreaterThan(unrelayed + 0.05));

    // 2. Relayed, on the stream but not delivered to the group.
    assertThat(relayOnly.relay().drain()).isEqualTo(1);
    sampler.sampleOnce();
    assertThat(metrics.scrape()).contains("invalidator_outbox_pending 0.0");
    double undelivered = staleness("acme");
    assertThat(undelivered).isGreaterThan(unrelayed);

    // 3. Delivered to a consumer, pending: not applied yet.
    List<Delivery> delivered = consumer.poll(10, Duration.ofMillis(100));
    assertThat(delivered).hasSize(1);
    sampler.sampleOnce();
    assertThat(metrics.scrape())
        .contains("invalidator_stream_pending{group=\"" + env.cfg.worker().group() + "\"} 1.0");
    assertThat(staleness("acme")).isGreaterThanOrEqualTo(undelivered);

    // 4. Acknowledged after the apply: fresh again.
    consumer.ack(List.of(delivered.get(0).id()));
    sampler.sampleOnce();
    assertThat(staleness("acme")).isZero();
    assertThat(staleness("other")).isZero();
  }

  @Test
  void unlistedTenantsShareTheOtherSeriesWithTheirMaximum() throws Exception {
    consumer.ensureGroup();
    env.commit("initech", "i1", 1);
    // initech committed ten seconds before the others.
    try (var c = env.servers.dataSource().getConnection();
        var s = c.createStatement()) {
      s.execute(
          "UPDATE "
              + env.table.qualified()
              + " SET created_at = created_at - interval '10 seconds' WHERE tenant_id = 'initech'");
    }
    env.commit("umbrella", "u1", 1);
    env.commit("globex", "g1", 1);
    // initech's event is relayed and delivered (pending), the rest stay in the outbox.
    List<String> unrelayedFirst = tenantsOfScrape();
    assertThat(unrelayedFirst).containsExactlyInAnyOrder("acme", "globex", "other");
    relayOnly.relay().drain();
    consumer.poll(10, Duration.ofMillis(100));
    env.commit("umbrella", "u2", 2);
    sampler.sampleOnce();
    double other = staleness("other");
    double globex = staleness("globex");
    assertThat(globex).isGreaterThan(0);
    assertThat(staleness("acme")).isZero();
    // other is the oldest of initech (pending on the stream) and umbrella (outbox): initech's.
    assertThat(other).isGreaterThan(globex + 9);
    assertThat(tenantsOfScrape()).containsExactlyInAnyOrder("acme", "globex", "other");
  }

  private double staleness(String tenant) {
    Matcher m =
        Pattern.compile(
                "(?m)^invalidator_tenant_staleness_seconds\\{tenant=\""
                    + Pattern.quote(tenant)
                    + "\"} (\\S+)$")
            .matcher(metrics.scrape());
    assertThat(m.find()).as("series for " + tenant).isTrue();
    return Double.parseDouble(m.group(1));
  }

  private List<String> tenantsOfScrape() {
    Matcher m =
        Pattern.compile("(?m)^invalidator_tenant_staleness_seconds\\{tenant=\"([^\"]+)\"}")
            .matcher(metrics.scrape());
    return m.results().map(r -> r.group(1)).collect(Collectors.toList());
  }
}
