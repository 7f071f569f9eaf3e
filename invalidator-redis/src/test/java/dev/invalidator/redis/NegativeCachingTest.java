package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Negative caching: "absent at version w" is an entry like any other, under the same fence rules,
 * so an insert (an event with a newer version) removes it exactly like a stale value.
 */
class NegativeCachingTest {
  private static final AggregateRef ACCOUNT = new AggregateRef("acme", "account", "42");

  private static StatefulRedisConnection<String, String> redis;

  private final List<CacheClient> caches = new ArrayList<>();
  private KeyScheme keys;
  private VersionGatedRedisTarget target;

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
    target = new VersionGatedRedisTarget(redis, keys, Duration.ofMinutes(15));
  }

  @AfterEach
  void tearDown() {
    caches.forEach(CacheClient::close);
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void absenceIsCachedWithTheNegativeTtlAndServedWithoutLoading() {
    CacheClient cache = cache(CacheClient.builder().negativeTtl(Duration.ofSeconds(20)));
    AtomicInteger loads = new AtomicInteger();
    CacheClient.Loader loader =
        () -> {
          loads.incrementAndGet();
          return CacheClient.Versioned.absentAt(0);
        };

    CacheClient.Versioned first = get(cache, loader);
    CacheClient.Versioned second = get(cache, loader);

    assertThat(first.absent()).isTrue();
    assertThat(second.absent()).isTrue();
    assertThat(second.version()).isZero();
    assertThat(second.value()).isNull();
    assertThat(loads).hasValue(1);
    assertThat(cache.stats().hits()).isEqualTo(1);
    String entry = keys.entry(ACCOUNT, "summary");
    assertThat(redis.sync().hgetall(entry)).isEqualTo(Map.of("ver", "0", "abs", "1"));
    assertThat(redis.sync().pttl(entry)).isBetween(1L, 20_000L);
  }

  @Test
  void insertAfterACachedAbsenceIsVisibleOnceItsEventIsApplied() {
    CacheClient cache = cache(CacheClient.builder());
    Map<AggregateRef, Long> db = new ConcurrentHashMap<>();
    TypedCache<String> names = cache.typed(CacheCodec.utf8());

    assertThat(read(names, ACCOUNT, db)).isEmpty();
    assertThat(read(names, ACCOUNT, db)).as("the absence is served from Redis").isEmpty();
    assertThat(cache.stats().hits()).isEqualTo(1);

    db.put(ACCOUNT, 1L); // INSERT ... version 1, with its outbox event
    assertThat(read(names, ACCOUNT, db))
        .as("before the event is applied the cached absence may still be served")
        .isEmpty();
    target.apply(List.of(event(ACCOUNT, 1)));

    assertThat(read(names, ACCOUNT, db)).contains("row@1");
    assertThat(redis.sync().hget(keys.entry(ACCOUNT, "summary"), "ver")).isEqualTo("1");
  }

  @Test
  void absenceReadBeforeAnInsertIsRefusedByTheFence() {
    CacheClient cache = cache(CacheClient.builder());
    // The reader found no row; meanwhile the row was inserted at version 1 and its event applied.
    target.apply(List.of(event(ACCOUNT, 1)));

    CacheClient.Versioned served = get(cache, () -> CacheClient.Versioned.absentAt(0));

    assertThat(served.absent()).as("the caller gets what it read").isTrue();
    assertThat(cache.stats().fillsRejected()).isEqualTo(1);
    assertThat(redis.sync().exists(keys.entry(ACCOUNT, "summary"))).isZero();
  }

  @Test
  void deleteCachesTheAbsenceAtItsVersionAndAReinsertRemovesIt() {
    CacheClient cache = cache(CacheClient.builder());
    Map<AggregateRef, Long> db = new ConcurrentHashMap<>(Map.of(ACCOUNT, 3L));
    TypedCache<String> names = cache.typed(CacheCodec.utf8());
    assertThat(read(names, ACCOUNT, db)).contains("row@3");

    db.remove(ACCOUNT); // DELETE, event version 4; the loader reports "absent at 4"
    target.apply(List.of(event(ACCOUNT, 4)));
    TypedCache.Loader<String> deleted = () -> TypedCache.Loaded.absent(4);
    assertThat(names.get("acme", "account", "42", "summary", deleted)).isEmpty();
    assertThat(redis.sync().hget(keys.entry(ACCOUNT, "summary"), "abs")).isEqualTo("1");

    db.put(ACCOUNT, 5L); // re-INSERT, event version 5
    target.apply(List.of(event(ACCOUNT, 5)));
    assertThat(read(names, ACCOUNT, db)).contains("row@5");
  }

  /**
   * Inserts and updates race readers that cache absences; once every event is applied (the pipeline
   * drained), every client reads every row at the database's version: never "not found" forever.
   */
  @Test
  void insertsRacingCachedAbsencesAreAllVisibleAfterDrain() throws Exception {
    List<CacheClient> clients = List.of(cache(CacheClient.builder()), cache(CacheClient.builder()));
    Map<AggregateRef, Long> db = new ConcurrentHashMap<>();
    List<AggregateRef> refs = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      refs.add(new AggregateRef("acme", "account", "a" + i));
    }
    LinkedBlockingQueue<InvalidationEvent> committed = new LinkedBlockingQueue<>();
    AtomicBoolean writing = new AtomicBoolean(true);
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<?>> tasks = new ArrayList<>();
      for (CacheClient c : clients) {
        for (int t = 0; t < 2; t++) {
          TypedCache<String> names = c.typed(CacheCodec.utf8());
          tasks.add(
              pool.submit(
                  () -> {
                    while (writing.get()) {
                      for (AggregateRef ref : refs) {
                        read(names, ref, db);
                      }
                    }
                    return null;
                  }));
        }
      }
      // The "relay and workers": events applied some time after their commit.
      tasks.add(
          pool.submit(
              () -> {
                while (writing.get() || !committed.isEmpty()) {
                  InvalidationEvent e = committed.poll(10, TimeUnit.MILLISECONDS);
                  if (e != null) {
                    target.apply(List.of(e));
                  }
                }
                return null;
              }));
      for (int round = 1; round <= 3; round++) {
        for (AggregateRef ref : refs) {
          db.put(ref, (long) round); // round 1 inserts, later rounds update
          committed.add(event(ref, round));
        }
      }
      writing.set(false);
      for (Future<?> f : tasks) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }

    assertThat(staleReads(clients, refs, db)).isEmpty();
  }

  /** Negative control: the checker above reports an absence that survived an insert. */
  @Test
  void checkerCatchesAnAbsenceThatSurvivedTheInsert() {
    CacheClient cache = cache(CacheClient.builder());
    Map<AggregateRef, Long> db = new ConcurrentHashMap<>(Map.of(ACCOUNT, 1L));
    target.apply(List.of(event(ACCOUNT, 1)));
    // A broken fill: the absence written at the fence's version, as if the insert were older.
    redis.sync().hset(keys.entry(ACCOUNT, "summary"), Map.of("ver", "1", "abs", "1"));

    assertThat(staleReads(List.of(cache), List.of(ACCOUNT), db))
        .containsExactly(ACCOUNT + " not found, database at 1");
  }

  private static List<String> staleReads(
      List<CacheClient> clients, List<AggregateRef> refs, Map<AggregateRef, Long> db) {
    List<String> stale = new ArrayList<>();
    for (CacheClient c : clients) {
      TypedCache<String> names = c.typed(CacheCodec.utf8());
      for (AggregateRef ref : refs) {
        Optional<String> v = read(names, ref, db);
        String expected = "row@" + db.get(ref);
        if (v.isEmpty()) {
          stale.add(ref + " not found, database at " + db.get(ref));
        } else if (!v.get().equals(expected)) {
          stale.add(ref + " served " + v.get() + ", database at " + db.get(ref));
        }
      }
    }
    return stale;
  }

  /** The "database": a missing row is absent at version 0 (versions start at 1). */
  private static Optional<String> read(
      TypedCache<String> names, AggregateRef ref, Map<AggregateRef, Long> db) {
    return names.get(
        ref.tenantId(),
        ref.type(),
        ref.id(),
        "summary",
        () -> {
          Long v = db.get(ref);
          return v == null ? TypedCache.Loaded.absent(0) : TypedCache.Loaded.of(v, "row@" + v);
        });
  }

  private CacheClient cache(CacheClient.Builder builder) {
    CacheClient c = builder.redisClient(TestRedis.CLIENT).keyScheme(keys).build();
    caches.add(c);
    return c;
  }

  private static CacheClient.Versioned get(CacheClient cache, CacheClient.Loader loader) {
    return cache.get(ACCOUNT.tenantId(), ACCOUNT.type(), ACCOUNT.id(), "summary", loader);
  }
}
