package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Payload;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.embedded.EmbeddedRedisCluster;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.outbox.RelayListener;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.StreamStats;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.testing.TestRedisCluster;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's pipeline (relay, stream, workers, near-cache publishing) and {@link CacheClient} on
 * a private 3-master Redis Cluster, while writers commit and readers fill: the stream's slot and an
 * aggregate's slot are migrated to other masters, then the master holding the stream is restarted.
 * After the pipeline drained, no entry is older than the database and every fence holds the newest
 * committed version (nothing lost).
 */
class RedisClusterPipelineIT {
  private static final Logger log = LoggerFactory.getLogger(RedisClusterPipelineIT.class);
  private static final String TYPE = "account";
  private static final String VIEW = "summary";
  private static final String[] TENANTS = {"t1", "t2", "t3", "t4"};
  private static final int PER_TENANT = 10;

  private EmbeddedRedisCluster cluster;
  private InvalidatorConfig cfg;
  private Servers servers;
  private OutboxTable table;
  private KeyScheme keys;
  private String business;
  private OutboxWriter writer;

  @BeforeEach
  void setUp() throws SQLException {
    cluster = TestRedisCluster.startPrivate();
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    Map<String, String> o = new HashMap<>();
    o.put("postgres.url", TestServers.postgresUrl());
    o.put("redis.url", cluster.url());
    o.put("redis.cluster", "true");
    o.put("postgres.table", "outbox_c" + id);
    o.put("redis.prefix", "c" + id);
    o.put("worker.block", "100ms");
    o.put("worker.claimMinIdle", "2s");
    o.put("worker.claimInterval", "500ms");
    o.put("worker.retryMax", "1s");
    o.put("relay.pollInterval", "200ms");
    cfg = ConfigLoader.load(null, Map.of(), o);
    servers = Servers.connect(cfg);
    table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    keys = cfg.redis().keyScheme();
    OutboxSchema.migrate(servers.dataSource(), table);
    business = "acct_c" + id;
    try (Connection c = servers.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE "
              + business
              + " (tenant_id text, account_id text, version bigint NOT NULL,"
              + " PRIMARY KEY (tenant_id, account_id))");
      for (String t : TENANTS) {
        for (int i = 0; i < PER_TENANT; i++) {
          s.execute("INSERT INTO " + business + " VALUES ('" + t + "', 'a" + i + "', 1)");
        }
      }
    }
    writer = OutboxWriter.create(table);
  }

  @AfterEach
  void tearDown() throws SQLException {
    try {
      try (Connection c = servers.dataSource().getConnection();
          Statement s = c.createStatement()) {
        s.execute("DROP TABLE IF EXISTS " + business);
        s.execute("DROP TABLE IF EXISTS " + table.qualified() + " CASCADE");
        s.execute(
            "DROP TABLE IF EXISTS " + table.schema() + "." + table.table() + "_schema_history");
      }
      servers.close();
    } finally {
      cluster.close();
    }
  }

  @Test
  void eventsFlowThroughASlotMigrationAndAMasterRestartWithNothingStaleAfterDrain()
      throws Exception {
    RedisClusterClient clusterClient = (RedisClusterClient) servers.connector().client();
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicLong writes = new AtomicLong();
    AtomicLong readErrors = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    try (Pipeline pipeline =
            new Pipeline(
                cfg,
                servers,
                Daemon.Role.ALL,
                WorkerListener.NONE,
                RelayListener.NONE,
                Clock.systemUTC());
        CacheClient cache =
            CacheClient.builder()
                .redisClusterClient(clusterClient)
                .keyScheme(keys)
                .fenceTtl(cfg.cache().fenceTtl())
                .build()) {
      pipeline.start();
      for (int w = 0; w < 2; w++) {
        threads.add(
            start(
                "writer-" + w,
                () -> {
                  while (running.get()) {
                    if (commitWrite(randomTenant(), "a" + random(PER_TENANT))) {
                      writes.incrementAndGet();
                    }
                  }
                }));
      }
      for (int r = 0; r < 2; r++) {
        threads.add(
            start(
                "reader-" + r,
                () -> {
                  while (running.get()) {
                    String t = randomTenant();
                    String id = "a" + random(PER_TENANT);
                    try {
                      cache.get(
                          t,
                          TYPE,
                          id,
                          VIEW,
                          () -> {
                            long v = dbVersion(t, id);
                            return new CacheClient.Versioned(
                                v, ("v" + v).getBytes(StandardCharsets.UTF_8));
                          });
                    } catch (RuntimeException e) {
                      readErrors.incrementAndGet(); // a master is down: the reader retries
                    }
                  }
                }));
      }
      Thread.sleep(1500); // let events flow before disturbing the cluster
      int streamSlot = SlotHash.getSlot(keys.stream());
      int streamOwner = cluster.ownerOf(streamSlot);
      int newStreamOwner = (streamOwner + 1) % EmbeddedRedisCluster.MASTERS;
      long movedStream = cluster.migrateSlot(streamSlot, newStreamOwner);
      log.info(
          "stream slot {} moved to master {} ({} keys)", streamSlot, newStreamOwner, movedStream);
      AggregateRef hot = new AggregateRef("t1", TYPE, "a0");
      int aggregateSlot = SlotHash.getSlot(keys.fence(hot));
      int aggregateTarget = (cluster.ownerOf(aggregateSlot) + 1) % EmbeddedRedisCluster.MASTERS;
      long movedAggregate = cluster.migrateSlot(aggregateSlot, aggregateTarget);
      log.info("aggregate slot {} moved ({} keys)", aggregateSlot, movedAggregate);
      long before = writes.get();
      await().atMost(Duration.ofSeconds(20)).until(() -> writes.get() > before + 20);
      cluster.restart(newStreamOwner);
      log.info("master {} (holding the stream) restarted", newStreamOwner);
      long afterRestart = writes.get();
      await().atMost(Duration.ofSeconds(30)).until(() -> writes.get() > afterRestart + 20);
      running.set(false);
      for (Thread t : threads) {
        t.join(30_000);
      }
      assertThat(movedStream).as("the stream moved with its slot").isPositive();
      awaitDrained();

      RedisClusterCommands<String, String> redis = servers.connection().sync();
      List<String> stale = new ArrayList<>();
      List<String> behind = new ArrayList<>();
      for (Map.Entry<AggregateRef, Long> e : databaseVersions().entrySet()) {
        String ver = redis.hget(keys.entry(e.getKey(), VIEW), "ver");
        if (ver != null && Long.parseLong(ver) < e.getValue()) {
          stale.add(e.getKey() + " holds " + ver + " < " + e.getValue());
        }
        String fence = redis.get(keys.fence(e.getKey()));
        if (e.getValue() > 1 && (fence == null || Long.parseLong(fence) < e.getValue())) {
          behind.add(e.getKey() + " fence " + fence + " < " + e.getValue());
        }
      }
      log.info(
          "{} writes, {} failed reads during the disturbances, stale {}, fences behind {}",
          writes.get(),
          readErrors.get(),
          stale.size(),
          behind.size());
      assertThat(writes.get()).isGreaterThan(40);
      assertThat(stale).as("entries older than the database after drain").isEmpty();
      assertThat(behind).as("committed versions never applied").isEmpty();
      assertThat(new RedisDeadLetters(servers.connection(), keys).depth()).isZero();
    } finally {
      running.set(false);
    }
  }

  private static Thread start(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.start();
    return t;
  }

  private static String randomTenant() {
    return TENANTS[random(TENANTS.length)];
  }

  private static int random(int n) {
    return ThreadLocalRandom.current().nextInt(n);
  }

  private void awaitDrained() {
    try (RedisStreamSource probe =
        RedisStreamSource.builder(servers.connector(), keys)
            .group(cfg.worker().group())
            .consumer("probe")
            .build()) {
      await()
          .atMost(Duration.ofSeconds(45))
          .pollInterval(Duration.ofMillis(100))
          .untilAsserted(
              () -> {
                OutboxStats o = OutboxStats.read(servers.dataSource(), table);
                StreamStats s = probe.stats();
                assertThat(List.of(o.pending(), s.pending(), s.lag()))
                    .as("outbox pending, stream pending, stream lag (%s)", s)
                    .containsOnly(0L);
              });
    }
  }

  private boolean commitWrite(String tenant, String id) {
    try (Connection c = servers.dataSource().getConnection()) {
      c.setAutoCommit(false);
      long version;
      try (PreparedStatement ps =
          c.prepareStatement(
              "UPDATE "
                  + business
                  + " SET version = version + 1 WHERE tenant_id = ? AND account_id = ?"
                  + " RETURNING version")) {
        ps.setString(1, tenant);
        ps.setString(2, id);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          version = rs.getLong(1);
        }
      }
      writer.append(
          c,
          InvalidationEvent.builder()
              .tenant(tenant)
              .aggregate(TYPE, id)
              .version(version)
              .eventType("account.changed")
              .payload(Payload.ofViews(VIEW))
              .build());
      c.commit();
      return true;
    } catch (SQLException e) {
      return false; // a lock timeout or deadlock between the two writers: nothing committed
    }
  }

  private long dbVersion(String tenant, String id) throws SQLException {
    try (Connection c = servers.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT version FROM " + business + " WHERE tenant_id = ? AND account_id = ?")) {
      ps.setString(1, tenant);
      ps.setString(2, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private Map<AggregateRef, Long> databaseVersions() throws SQLException {
    Map<AggregateRef, Long> out = new HashMap<>();
    try (Connection c = servers.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id, account_id, version FROM " + business)) {
      while (rs.next()) {
        out.put(new AggregateRef(rs.getString(1), TYPE, rs.getString(2)), rs.getLong(3));
      }
    }
    return out;
  }
}
