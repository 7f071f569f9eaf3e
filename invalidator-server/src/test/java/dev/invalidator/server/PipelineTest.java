package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Payload;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.outbox.RelayListener;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.PipelineSettings;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.StreamStats;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.StreamMessage;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The whole pipeline against real PostgreSQL and Redis: writer, outbox, relay, stream, workers,
 * CacheClient. G1 end to end and G3 (convergence with racing read-through fills), with the negative
 * control that proves the convergence checker catches a plain-{@code HSET} fill.
 */
class PipelineTest {
  private static final String TYPE = "account";
  private static final String VIEW = "summary";

  private InvalidatorConfig cfg;
  private Servers servers;
  private OutboxTable table;
  private KeyScheme keys;
  private String business;
  private OutboxWriter writer;

  @BeforeEach
  void setUp() throws SQLException {
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    Map<String, String> o = new HashMap<>();
    o.put("postgres.url", TestServers.postgresUrl());
    o.put("redis.url", TestServers.redisUrl());
    o.put("postgres.table", "outbox_p" + id);
    o.put("redis.prefix", "p" + id);
    o.put("worker.block", "100ms");
    o.put("worker.claimMinIdle", "2s");
    o.put("worker.claimInterval", "500ms");
    o.put("relay.pollInterval", "200ms");
    cfg = ConfigLoader.load(null, Map.of(), o);
    servers = Servers.connect(cfg);
    table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    keys = cfg.redis().keyScheme();
    OutboxSchema.migrate(servers.dataSource(), table);
    business = "acct_p" + id;
    try (Connection c = servers.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE "
              + business
              + " (tenant_id text, account_id text, version bigint NOT NULL,"
              + " PRIMARY KEY (tenant_id, account_id))");
    }
    writer = OutboxWriter.create(table);
  }

  @AfterEach
  void tearDown() throws SQLException {
    try (Connection c = servers.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + business);
      s.execute("DROP TABLE IF EXISTS " + table.qualified() + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + table.schema() + "." + table.table() + "_schema_history");
    }
    servers.close();
  }

  /**
   * Rows waiting when the daemon starts are relayed once: the first Redis-loss check runs before
   * the relay publishes, so the relay's first batch is never mistaken for data Redis lost (which
   * replayed it: the stream held every event twice).
   */
  @Test
  void rowsWaitingAtStartAreRelayedOnceNotReplayedAsALoss() throws Exception {
    try (Connection c = servers.dataSource().getConnection()) {
      c.setAutoCommit(false);
      for (int i = 0; i < 50; i++) {
        writer.append(
            c,
            InvalidationEvent.builder().tenant("acme").aggregate(TYPE, "s" + i).version(1).build());
      }
      c.commit();
    }
    try (Pipeline p = pipeline(Daemon.Role.ALL, WorkerListener.NONE)) {
      p.start();
      awaitDrained();
      assertThat(p.recovery().recoveries()).isZero();
      assertThat(servers.connection().sync().xlen(keys.stream())).isEqualTo(50);
    }
  }

  @Test
  void workersPublishTheSettingsEveryCacheClientIsCheckedAgainst() {
    assertThat(PipelineSettings.read(servers.connection(), keys)).isEmpty();
    Pipeline workers = pipeline(Daemon.Role.WORKER, WorkerListener.NONE);
    try {
      assertThat(PipelineSettings.read(servers.connection(), keys))
          .contains(new PipelineSettings(Duration.ofMinutes(15), 16));
      // Default fence TTL = entry TTL + 5 min = 25 min, not the daemon's 15 min.
      assertThatThrownBy(
              () ->
                  CacheClient.builder()
                      .redisClient(servers.redis())
                      .keyScheme(keys)
                      .entryTtl(Duration.ofMinutes(20))
                      .build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("cache.fenceTtl (PT25M)")
          .hasMessageContaining("daemon's cache.fenceTtl (PT15M");
      CacheClient.builder().redisClient(servers.redis()).keyScheme(keys).build().close();
    } finally {
      workers.close();
    }
  }

  @Test
  void rolledBackTransactionNeverReachesTheStream() throws Exception {
    seed("acme", 1);
    try (Pipeline relayOnly = pipeline(Daemon.Role.RELAY, WorkerListener.NONE)) {
      try (Connection c = servers.dataSource().getConnection()) {
        c.setAutoCommit(false);
        write(c, "acme", "a0");
        c.rollback();
      }
      InvalidationEvent committed;
      try (Connection c = servers.dataSource().getConnection()) {
        c.setAutoCommit(false);
        committed = write(c, "acme", "a0");
        c.commit();
      }
      relayOnly.relay().drain();
      relayOnly.relay().drain();
      List<StreamMessage<String, String>> entries =
          servers.connection().sync().xrange(keys.stream(), io.lettuce.core.Range.create("-", "+"));
      assertThat(entries).hasSize(1);
      InvalidationEvent published = StreamEntry.event(entries.get(0).getBody());
      assertThat(published.eventId()).isEqualTo(committed.eventId());
      assertThat(published.aggregateVersion()).isEqualTo(2);
      assertThat(EventCodec.encode(published)).contains("\"tenant_id\":\"acme\"");
    }
  }

  /** How a reader puts what it read from the database into Redis. */
  private enum Fill {
    CACHE_CLIENT,
    PLAIN_HSET
  }

  @Test
  void concurrentWritesReadsAndInvalidationsConvergeAfterDrain() throws Exception {
    RaceResult r = race(Fill.CACHE_CLIENT);
    assertThat(r.stale).as("entries older than the database after drain: %s", r.staleKeys).isZero();
    assertThat(r.fillsRejected).as("the final racing round must exercise the fence").isPositive();
  }

  @Test
  void negativeControlPlainHsetFillIsCaughtByTheSameChecker() throws Exception {
    RaceResult r = race(Fill.PLAIN_HSET);
    // Every aggregate of the racing round ends with a stale entry: the checker must see them all.
    assertThat(r.stale).isEqualTo(r.aggregates);
  }

  private record RaceResult(
      int aggregates, int stale, List<String> staleKeys, long fillsRejected) {}

  /**
   * A random phase (writers, readers and workers all running on a few hot aggregates), then a
   * racing round that forces the classic stale-set interleaving on every aggregate: a reader reads
   * version v from the database, a writer commits v+1, the worker applies it, and only then does
   * the reader fill. After draining, the checker compares every entry with the database.
   */
  private RaceResult race(Fill fill) throws Exception {
    int aggregates = 8;
    String tenant = "t1";
    seed(tenant, aggregates);
    try (Pipeline pipeline = pipeline(Daemon.Role.ALL, WorkerListener.NONE);
        CacheClient cache =
            CacheClient.builder().redisClient(servers.redis()).keyScheme(keys).build()) {
      pipeline.start();
      RedisClusterCommands<String, String> redis = servers.connection().sync();
      ExecutorService pool = Executors.newFixedThreadPool(6);
      AtomicBoolean writing = new AtomicBoolean(true);
      List<CompletableFuture<?>> writers = new ArrayList<>();
      for (int w = 0; w < 2; w++) {
        writers.add(
            CompletableFuture.runAsync(
                () -> {
                  for (int i = 0; i < 150; i++) {
                    commitWrite(tenant, "a" + ThreadLocalRandom.current().nextInt(aggregates));
                  }
                },
                pool));
      }
      List<CompletableFuture<?>> readers = new ArrayList<>();
      for (int rdr = 0; rdr < 3; rdr++) {
        readers.add(
            CompletableFuture.runAsync(
                () -> {
                  while (writing.get()) {
                    String id = "a" + ThreadLocalRandom.current().nextInt(aggregates);
                    read(fill, cache, redis, tenant, id, null);
                  }
                },
                pool));
      }
      CompletableFuture.allOf(writers.toArray(new CompletableFuture<?>[0]))
          .get(60, TimeUnit.SECONDS);
      writing.set(false);
      CompletableFuture.allOf(readers.toArray(new CompletableFuture<?>[0]))
          .get(60, TimeUnit.SECONDS);

      // The racing round: on every aggregate, a fill that read the database before a write
      // whose invalidation has already been applied.
      List<CompletableFuture<?>> round = new ArrayList<>();
      for (int a = 0; a < aggregates; a++) {
        String id = "a" + a;
        redis.unlink(keys.entry(new AggregateRef(tenant, TYPE, id), VIEW)); // force a miss
        round.add(
            CompletableFuture.runAsync(
                () -> read(fill, cache, redis, tenant, id, () -> commitWrite(tenant, id)), pool));
      }
      CompletableFuture.allOf(round.toArray(new CompletableFuture<?>[0])).get(60, TimeUnit.SECONDS);
      pool.shutdown();

      awaitDrained();
      Map<String, Long> db = databaseVersions(tenant);
      List<String> staleKeys = new ArrayList<>();
      for (Map.Entry<String, Long> e : db.entrySet()) {
        String key = keys.entry(new AggregateRef(tenant, TYPE, e.getKey()), VIEW);
        String ver = redis.hget(key, "ver");
        if (ver != null && Long.parseLong(ver) < e.getValue()) {
          staleKeys.add(key + " holds " + ver + " < " + e.getValue());
        }
      }
      return new RaceResult(aggregates, staleKeys.size(), staleKeys, cache.stats().fillsRejected());
    }
  }

  /**
   * One read-through. With {@code between} set, the reader reads the database, then runs {@code
   * between} (a write), waits until the worker has applied that write (the fence passed what it
   * read), and only then fills: the stale-set interleaving, made certain.
   */
  private void read(
      Fill fill,
      CacheClient cache,
      RedisClusterCommands<String, String> redis,
      String tenant,
      String id,
      Runnable between) {
    AggregateRef ref = new AggregateRef(tenant, TYPE, id);
    CacheClient.Loader loader =
        () -> {
          long v = dbVersion(tenant, id);
          if (between != null) {
            between.run();
            awaitFenceAbove(redis, ref, v);
          }
          return new CacheClient.Versioned(v, ("v" + v).getBytes(StandardCharsets.UTF_8));
        };
    try {
      if (fill == Fill.CACHE_CLIENT) {
        cache.get(tenant, TYPE, id, VIEW, loader);
      } else {
        String key = keys.entry(ref, VIEW);
        if (between == null && redis.exists(key) == 1) {
          return;
        }
        CacheClient.Versioned v = loader.load();
        redis.hset(key, Map.of("ver", Long.toString(v.version()), "val", "v" + v.version()));
      }
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private void awaitFenceAbove(
      RedisClusterCommands<String, String> redis, AggregateRef ref, long v) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      String fence = redis.get(keys.fence(ref));
      if (fence != null && Long.parseLong(fence) > v) {
        return;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));
    }
    throw new AssertionError("the pipeline did not apply the write to " + ref + " within 20 s");
  }

  private void awaitDrained() {
    try (RedisStreamSource probe =
        RedisStreamSource.builder(servers.redis(), keys)
            .group(cfg.worker().group())
            .consumer("probe")
            .build()) {
      await()
          .atMost(Duration.ofSeconds(30))
          .pollInterval(Duration.ofMillis(50))
          .until(
              () -> {
                OutboxStats o = OutboxStats.read(servers.dataSource(), table);
                StreamStats s = probe.stats();
                return o.pending() == 0 && s.pending() == 0 && s.lag() == 0;
              });
    }
  }

  private Pipeline pipeline(Daemon.Role role, WorkerListener listener) {
    return new Pipeline(cfg, servers, role, listener, RelayListener.NONE, Clock.systemUTC());
  }

  private void seed(String tenant, int n) throws SQLException {
    try (Connection c = servers.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("INSERT INTO " + business + " VALUES (?, ?, 1)")) {
      for (int i = 0; i < n; i++) {
        ps.setString(1, tenant);
        ps.setString(2, "a" + i);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  private InvalidationEvent write(Connection c, String tenant, String id) throws SQLException {
    long version;
    try (PreparedStatement ps =
        c.prepareStatement(
            "UPDATE "
                + business
                + " SET version = version + 1 WHERE tenant_id = ? AND account_id = ? RETURNING version")) {
      ps.setString(1, tenant);
      ps.setString(2, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        version = rs.getLong(1);
      }
    }
    InvalidationEvent e =
        InvalidationEvent.builder()
            .tenant(tenant)
            .aggregate(TYPE, id)
            .version(version)
            .eventType("account.changed")
            .payload(Payload.ofViews(VIEW))
            .build();
    writer.append(c, e);
    return e;
  }

  private void commitWrite(String tenant, String id) {
    try (Connection c = servers.dataSource().getConnection()) {
      c.setAutoCommit(false);
      write(c, tenant, id);
      c.commit();
    } catch (SQLException e) {
      throw new IllegalStateException(e);
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

  private Map<String, Long> databaseVersions(String tenant) throws SQLException {
    Map<String, Long> out = new HashMap<>();
    try (Connection c = servers.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT account_id, version FROM " + business + " WHERE tenant_id = ?")) {
      ps.setString(1, tenant);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.put(rs.getString(1), rs.getLong(2));
        }
      }
    }
    return out;
  }
}
