package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.Backoff;
import dev.invalidator.core.FlushEvents;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The in-process tier kept fresh over Pub/Sub: fan-out, loss detection, reconnects (G3). */
class NearCacheTest {
  private static final int CHANNELS = 4;
  private static final String VIEW = "summary";

  private static StatefulRedisConnection<String, String> redis;

  private final List<CacheClient> caches = new ArrayList<>();
  private KeyScheme keys;
  private VersionGatedRedisTarget target;
  private NearCacheHeartbeat heartbeat;
  private Thread heartbeatThread;

  @BeforeAll
  static void connect() {
    redis = TestRedis.CLIENT.connect();
  }

  @AfterAll
  static void disconnect() {
    redis.close();
  }

  @BeforeEach
  void setUp() {
    keys = TestRedis.randomKeys();
    target =
        new VersionGatedRedisTarget(
            redis,
            keys,
            Duration.ofMinutes(15),
            new VersionGatedRedisTarget.Options(100, CHANNELS));
  }

  @AfterEach
  void tearDown() throws InterruptedException {
    if (heartbeat != null) {
      heartbeat.stop();
      heartbeatThread.join(5_000);
    }
    caches.forEach(CacheClient::close);
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void invalidationAppliedInRedisDropsTheEntryFromEveryNearCache() {
    startHeartbeat(Duration.ofMillis(100));
    CacheClient a = nearCache(Duration.ofSeconds(2));
    CacheClient b = nearCache(Duration.ofSeconds(2));
    AggregateRef ref = new AggregateRef("acme", "account", "1");
    Map<AggregateRef, AtomicLong> db = new ConcurrentHashMap<>(Map.of(ref, new AtomicLong(1)));
    read(a, ref, db);
    read(b, ref, db);
    read(b, ref, db);
    assertThat(b.nearStats().hits()).isEqualTo(1);

    db.get(ref).set(2);
    target.apply(List.of(event(ref, 2)));

    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> read(a, ref, db) == 2 && read(b, ref, db) == 2);
  }

  @Test
  void tenantFlushDropsTheTenantsNearEntries() {
    startHeartbeat(Duration.ofMillis(100));
    CacheClient a = nearCache(Duration.ofSeconds(2));
    AggregateRef acme = new AggregateRef("acme", "account", "1");
    read(a, acme, new ConcurrentHashMap<>(Map.of(acme, new AtomicLong(1))));
    assertThat(a.nearCache().get(keys.viewPrefix(acme), VIEW)).isNotNull();

    target.apply(List.of(FlushEvents.tenant("acme", 1)));

    await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> a.nearCache().get(keys.viewPrefix(acme), VIEW) == null);
  }

  @Test
  void holeInTheSequenceFlushesTheChannelsTenants() {
    startHeartbeat(Duration.ofMillis(100));
    CacheClient a = nearCache(Duration.ofSeconds(2));
    AggregateRef ref = new AggregateRef("acme", "account", "1");
    read(a, ref, new ConcurrentHashMap<>(Map.of(ref, new AtomicLong(1))));
    int shard = KeyScheme.nearShard("acme", CHANNELS);
    await().atMost(Duration.ofSeconds(5)).until(() -> a.nearStats().messages() > 0);

    // A message the subscriber never saw: its number is taken, nothing is published.
    redis.sync().incr(keys.nearSequence(shard));

    await().atMost(Duration.ofSeconds(5)).until(() -> a.nearStats().gapFlushes() >= 1);
    assertThat(a.nearCache().get(keys.viewPrefix(ref), VIEW)).isNull();
  }

  @Test
  void silenceBeyondTheHeartbeatTimeoutFlushesAndBypassesTheTier() {
    CacheClient a = nearCache(Duration.ofMillis(300)); // no heartbeat publisher running
    AggregateRef ref = new AggregateRef("acme", "account", "1");
    Map<AggregateRef, AtomicLong> db = new ConcurrentHashMap<>(Map.of(ref, new AtomicLong(1)));
    read(a, ref, db);

    await().atMost(Duration.ofSeconds(5)).until(() -> a.nearStats().silenceFlushes() >= 1);
    long hits = a.nearStats().hits();
    read(a, ref, db);

    assertThat(a.nearCache().healthy()).isFalse();
    assertThat(a.nearStats().hits()).as("bypassed while silent").isEqualTo(hits);
    assertThat(a.nearStats().size()).isZero();
  }

  @Test
  void killedSubscriberReconnectsWithAFreshTier() {
    startHeartbeat(Duration.ofMillis(100));
    CacheClient a = nearCache(Duration.ofSeconds(2));
    AggregateRef ref = new AggregateRef("acme", "account", "1");
    read(a, ref, new ConcurrentHashMap<>(Map.of(ref, new AtomicLong(1))));
    long id = a.nearCache().clientId();

    redis.sync().clientKill(io.lettuce.core.KillArgs.Builder.id(id));

    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> a.nearStats().reconnects() >= 1 && a.nearCache().healthy());
    assertThat(a.nearStats().reconnectFlushes()).isGreaterThanOrEqualTo(1);
    assertThat(a.nearCache().clientId()).isNotEqualTo(id);
  }

  /**
   * Several instances with near caches, writers and readers running, subscriber connections killed
   * again and again: after the writers stop and the pipeline drained, no instance serves a value
   * older than the database.
   */
  @Test
  void nearCachesConvergeWhileSubscribersAreKilledRepeatedly() throws Exception {
    startHeartbeat(Duration.ofMillis(100));
    List<CacheClient> clients =
        List.of(
            nearCache(Duration.ofMillis(600)),
            nearCache(Duration.ofMillis(600)),
            nearCache(Duration.ofMillis(600)));
    Map<AggregateRef, AtomicLong> db = database();

    Chaos chaos = runChaos(clients, db, Duration.ofSeconds(6));

    await()
        .atMost(Duration.ofSeconds(5))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> staleReads(clients, db).isEmpty());
    long flushes = clients.stream().mapToLong(c -> c.nearStats().flushes()).sum();
    System.out.printf(
        "near-cache chaos: %d writes, %d reads, %d subscriber kills, %d flushes (%s), near hits %d,"
            + " puts refused %d%n",
        chaos.writes,
        chaos.reads,
        chaos.kills,
        flushes,
        clients.stream()
            .map(
                c ->
                    "gap "
                        + c.nearStats().gapFlushes()
                        + "/reconnect "
                        + c.nearStats().reconnectFlushes()
                        + "/silence "
                        + c.nearStats().silenceFlushes())
            .toList(),
        clients.stream().mapToLong(c -> c.nearStats().hits()).sum(),
        clients.stream().mapToLong(c -> c.nearStats().putsRefused()).sum());
    assertThat(chaos.kills).isGreaterThanOrEqualTo(5);
    assertThat(clients.stream().mapToLong(c -> c.nearStats().reconnectFlushes()).sum())
        .isGreaterThanOrEqualTo(1);
  }

  /** Negative control: the convergence checker catches a near entry older than the database. */
  @Test
  void checkerCatchesAStaleNearEntry() {
    startHeartbeat(Duration.ofMillis(100));
    CacheClient a = nearCache(Duration.ofSeconds(2));
    AggregateRef ref = new AggregateRef("acme", "account", "1");
    Map<AggregateRef, AtomicLong> db = new ConcurrentHashMap<>(Map.of(ref, new AtomicLong(2)));
    NearCache near = a.nearCache();
    int shard = near.shard("acme");
    near.put(
        "acme",
        shard,
        keys.viewPrefix(ref),
        VIEW,
        new CacheClient.Versioned(1, "v1".getBytes(StandardCharsets.UTF_8)),
        near.token(shard));

    assertThat(staleReads(List.of(a), db)).hasSize(1);
  }

  private record Chaos(long writes, long reads, long kills) {}

  private Chaos runChaos(
      List<CacheClient> clients, Map<AggregateRef, AtomicLong> db, Duration duration)
      throws Exception {
    List<AggregateRef> refs = new ArrayList<>(db.keySet());
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong writes = new AtomicLong();
    AtomicLong reads = new AtomicLong();
    long kills = 0;
    ExecutorService pool = Executors.newFixedThreadPool(3);
    List<Future<?>> running = new ArrayList<>();
    try {
      running.add(
          pool.submit(
              () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                while (!stop.get()) {
                  AggregateRef ref = refs.get(r.nextInt(refs.size()));
                  long v = db.get(ref).incrementAndGet(); // the commit
                  target.apply(List.of(event(ref, v))); // its invalidation
                  writes.incrementAndGet();
                  LockSupport.parkNanos(1_000_000);
                }
              }));
      for (int t = 0; t < 2; t++) {
        running.add(
            pool.submit(
                () -> {
                  ThreadLocalRandom r = ThreadLocalRandom.current();
                  while (!stop.get()) {
                    read(
                        clients.get(r.nextInt(clients.size())),
                        refs.get(r.nextInt(refs.size())),
                        db);
                    reads.incrementAndGet();
                  }
                }));
      }
      long end = System.nanoTime() + duration.toNanos();
      ThreadLocalRandom r = ThreadLocalRandom.current();
      while (System.nanoTime() < end) {
        LockSupport.parkNanos(Duration.ofMillis(250 + r.nextInt(250)).toNanos());
        long id = clients.get(r.nextInt(clients.size())).nearCache().clientId();
        if (id > 0) {
          try {
            redis.sync().clientKill(io.lettuce.core.KillArgs.Builder.id(id));
            kills++;
          } catch (RuntimeException alreadyGone) {
            // reconnecting right now
          }
        }
      }
      stop.set(true);
      for (Future<?> f : running) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    return new Chaos(writes.get(), reads.get(), kills);
  }

  /** Every (instance, aggregate) whose read returns a version other than the database's. */
  private List<String> staleReads(List<CacheClient> clients, Map<AggregateRef, AtomicLong> db) {
    List<String> stale = new ArrayList<>();
    for (int i = 0; i < clients.size(); i++) {
      for (AggregateRef ref : db.keySet()) {
        long served = read(clients.get(i), ref, db);
        long want = db.get(ref).get();
        if (served != want) {
          stale.add("instance " + i + " serves " + ref + "@" + served + ", database " + want);
        }
      }
    }
    return stale;
  }

  private static long read(CacheClient c, AggregateRef ref, Map<AggregateRef, AtomicLong> db) {
    return c.get(
            ref.tenantId(),
            ref.type(),
            ref.id(),
            VIEW,
            () -> {
              long v = db.get(ref).get();
              return new CacheClient.Versioned(v, ("v" + v).getBytes(StandardCharsets.UTF_8));
            })
        .version();
  }

  private static Map<AggregateRef, AtomicLong> database() {
    Map<AggregateRef, AtomicLong> db = new ConcurrentHashMap<>();
    for (String tenant : List.of("acme", "globex", "initech")) {
      for (int i = 0; i < 8; i++) {
        db.put(new AggregateRef(tenant, "account", "a" + i), new AtomicLong(0));
      }
    }
    return db;
  }

  private void startHeartbeat(Duration interval) {
    heartbeat = new NearCacheHeartbeat(redis, keys, CHANNELS, interval);
    heartbeatThread = new Thread(heartbeat, "test-heartbeat");
    heartbeatThread.start();
  }

  private CacheClient nearCache(Duration heartbeatTimeout) {
    CacheClient c =
        CacheClient.builder()
            .redisClient(TestRedis.CLIENT)
            .keyScheme(keys)
            .nearCache(
                NearCacheOptions.defaults()
                    .withChannels(CHANNELS)
                    .withTtl(Duration.ofMinutes(1))
                    .withHeartbeatTimeout(heartbeatTimeout)
                    .withReconnect(new Backoff(Duration.ofMillis(20), Duration.ofMillis(500))))
            .build();
    caches.add(c);
    await().atMost(Duration.ofSeconds(5)).until(() -> c.nearCache().healthy());
    return c;
  }
}
