package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static dev.invalidator.redis.TestRedis.text;
import static dev.invalidator.redis.TestRedis.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link CacheClient#getAsync}: the fill protocol of {@code get} on Lettuce's asynchronous API. The
 * stale-set race (a reader loads v1, v2 commits and its invalidation runs, the reader fills v1) is
 * played both in a fixed order and with real concurrency; the negative controls run the same
 * interleavings through a naive asynchronous cache-aside, which does bring v1 back.
 */
class CacheClientAsyncTest {
  private static final AggregateRef ORDER = new AggregateRef("acme", "order", "o-1");
  private static final long WAIT_SECONDS = 10;

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
  void missLoadsFillsAndThenHits() throws Exception {
    CacheClient cache = cache();
    AtomicInteger loads = new AtomicInteger();
    CacheClient.AsyncLoader loader =
        () -> {
          loads.incrementAndGet();
          return CompletableFuture.completedFuture(value(3, "order v3"));
        };

    assertThat(text(await(getAsync(cache, loader)))).isEqualTo("order v3");
    CacheClient.Versioned second = await(getAsync(cache, loader));

    assertThat(second.version()).isEqualTo(3);
    assertThat(text(second)).isEqualTo("order v3");
    assertThat(loads).hasValue(1);
    assertThat(cache.stats())
        .extracting(CacheClient.Stats::hits, CacheClient.Stats::misses, CacheClient.Stats::fills)
        .containsExactly(1L, 1L, 1L);
    // Filled as get fills: a get (and the daemon's target) sees the same entry.
    assertThat(text(cache.get("acme", "order", "o-1", "summary", () -> value(9, "not called"))))
        .isEqualTo("order v3");
  }

  @Test
  void blockingLoaderRunsOnTheGivenExecutor() throws Exception {
    CacheClient cache = cache();
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "app-db-pool"));
    try {
      AtomicReference<String> loaderThread = new AtomicReference<>();
      CacheClient.Versioned v =
          await(
              cache.getAsync(
                  "acme",
                  "order",
                  "o-1",
                  "summary",
                  () -> {
                    loaderThread.set(Thread.currentThread().getName());
                    return value(1, "order v1");
                  },
                  pool));

      assertThat(text(v)).isEqualTo("order v1");
      assertThat(loaderThread).hasValue("app-db-pool");
      assertThat(cache.stats().fills()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void fillRacingAnInvalidationIsRefusedAndNeverServed() throws Exception {
    CacheClient cache = cache();
    CompletableFuture<CacheClient.Versioned> databaseRead = new CompletableFuture<>();

    // 1. The reader misses and starts its database read of v1 (still running).
    CompletableFuture<CacheClient.Versioned> reader = getAsync(cache, () -> databaseRead);
    assertThat(reader).isNotDone();
    // 2. v2 commits and the daemon applies its invalidation.
    target.apply(List.of(event(ORDER, 2)));
    // 3. The reader's database read returns v1 and it fills.
    databaseRead.complete(value(1, "order v1"));

    assertThat(text(await(reader))).as("the caller gets what it read").isEqualTo("order v1");
    assertThat(cache.stats().fillsRejected()).isEqualTo(1);
    assertThat(redis.sync().exists(keys.entry(ORDER, "summary"))).isZero();
    AtomicInteger loads = new AtomicInteger();
    CacheClient.Versioned next =
        await(
            getAsync(
                cache,
                () -> {
                  loads.incrementAndGet();
                  return CompletableFuture.completedFuture(value(2, "order v2"));
                }));
    assertThat(text(next)).isEqualTo("order v2");
    assertThat(loads).as("v1 was not served from the cache").hasValue(1);
  }

  @Test
  void negativeControlTheSameOrderThroughANaiveCacheAsideServesV1() throws Exception {
    NaiveAsyncCache naive = new NaiveAsyncCache(redis.async(), keys.entry(ORDER, "summary"));
    CompletableFuture<CacheClient.Versioned> databaseRead = new CompletableFuture<>();

    CompletableFuture<CacheClient.Versioned> reader = naive.get(() -> databaseRead);
    redis.sync().set(keys.fence(ORDER), "2"); // what the target does, and the naive cache ignores
    redis.sync().unlink(keys.entry(ORDER, "summary"));
    databaseRead.complete(value(1, "order v1"));
    await(reader);

    CacheClient.Versioned served =
        await(naive.get(() -> CompletableFuture.completedFuture(value(2, "order v2"))));
    assertThat(text(served)).as("the stale-set race, without the fence").isEqualTo("order v1");
  }

  @Test
  void concurrentWritersAndAsyncReadersConvergeOnTheNewestVersion() throws Exception {
    Race race = race(CacheClientAsyncTest.this::fencedReader);
    assertThat(race.staleAfterDrain).as("aggregates stale after the drain").isZero();
    assertThat(race.rejected).as("fills the fence refused: the race happened").isPositive();
  }

  @Test
  void negativeControlConcurrentNaiveReadersLeaveStaleEntries() throws Exception {
    Race race = race(this::naiveReader);
    assertThat(race.staleAfterDrain).as("aggregates stale after the drain").isPositive();
  }

  @Test
  void anotherProcesssFillLeaseIsWaitedForOnATimer() throws Exception {
    CacheClient first = cache();
    CacheClient second = cache();
    CompletableFuture<CacheClient.Versioned> databaseRead = new CompletableFuture<>();
    CompletableFuture<CacheClient.Versioned> filling = getAsync(first, () -> databaseRead);
    AtomicInteger secondLoads = new AtomicInteger();

    CompletableFuture<CacheClient.Versioned> waiting =
        getAsync(
            second,
            () -> {
              secondLoads.incrementAndGet();
              return CompletableFuture.completedFuture(value(4, "loaded twice"));
            });
    Thread.sleep(50); // the waiter is re-reading on its timer now
    assertThat(waiting).isNotDone();
    databaseRead.complete(value(4, "order v4"));

    assertThat(text(await(filling))).isEqualTo("order v4");
    assertThat(text(await(waiting))).isEqualTo("order v4");
    assertThat(secondLoads).hasValue(0);
    assertThat(second.stats().leaseWaits()).isEqualTo(1);
    assertThat(second.stats().leaseWaitsServed()).isEqualTo(1);
  }

  @Test
  void loaderFailuresReachTheCallerAsGetThrowsThem() {
    CacheClient cache = cache();
    IllegalStateException runtime = new IllegalStateException("database down");

    assertThatThrownBy(() -> await(getAsync(cache, () -> CompletableFuture.failedFuture(runtime))))
        .isSameAs(runtime);
    assertThatThrownBy(
            () ->
                await(
                    getAsync(
                        cache, () -> CompletableFuture.failedFuture(new IOException("timeout")))))
        .isInstanceOf(InvalidatorException.class)
        .hasMessageContaining("loader failed for " + keys.entry(ORDER, "summary"))
        .hasCauseInstanceOf(IOException.class);
    assertThat(cache.stats().fills()).isZero();
  }

  @Test
  void typedCacheGetsAsynchronouslyThroughItsCodec() throws Exception {
    TypedCache<String> typed = cache().typed(CacheCodec.utf8());
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      AtomicInteger loads = new AtomicInteger();
      TypedCache.Loader<String> loader =
          () -> {
            loads.incrementAndGet();
            return TypedCache.Loaded.of(5, "order v5");
          };

      assertThat(
              typed
                  .getAsync("acme", "order", "o-1", "summary", loader, pool)
                  .get(WAIT_SECONDS, TimeUnit.SECONDS))
          .contains("order v5");
      assertThat(
              typed
                  .getAsync("acme", "order", "o-1", "summary", loader, pool)
                  .get(WAIT_SECONDS, TimeUnit.SECONDS))
          .contains("order v5");
      assertThat(loads).hasValue(1);
      assertThat(typed.client().stats().hits()).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  // --- the concurrent race -------------------------------------------------------------------

  /** One reader of the race: reads the aggregate through some cache, loading from {@code db}. */
  private interface Reader {
    CompletableFuture<CacheClient.Versioned> read(CacheClient cache, AggregateRef ref, Db db);
  }

  /** The database: each aggregate's newest committed version; reads return after a short delay. */
  private static final class Db {
    final Map<String, AtomicLong> versions = new java.util.concurrent.ConcurrentHashMap<>();

    CompletableFuture<CacheClient.Versioned> read(AggregateRef ref) {
      long v = versions.computeIfAbsent(ref.id(), k -> new AtomicLong(1)).get();
      // The read took its snapshot; the answer arrives a little later, as over a network.
      return CompletableFuture.supplyAsync(
          () -> value(v, "v" + v),
          CompletableFuture.delayedExecutor(
              java.util.concurrent.ThreadLocalRandom.current().nextInt(2, 6),
              TimeUnit.MILLISECONDS));
    }
  }

  private record Race(int staleAfterDrain, long rejected) {}

  private Race race(Reader reader) throws Exception {
    CacheClient cache = cache();
    Db db = new Db();
    List<AggregateRef> refs = new ArrayList<>();
    // Few, hot aggregates and database reads slower than the writes to one aggregate: most fills
    // race an invalidation, so the naive control goes stale for certain, not by luck.
    for (int i = 0; i < 4; i++) {
      refs.add(new AggregateRef("acme", "order", "r" + i));
    }
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1000);
    long readersUntil = until + TimeUnit.MILLISECONDS.toNanos(30); // reads in flight at the end
    ExecutorService writers = Executors.newFixedThreadPool(2);
    try {
      List<java.util.concurrent.Future<?>> running = new ArrayList<>();
      for (int w = 0; w < 2; w++) {
        running.add(
            writers.submit(
                () -> {
                  var r = java.util.concurrent.ThreadLocalRandom.current();
                  while (System.nanoTime() < until) {
                    AggregateRef ref = refs.get(r.nextInt(refs.size()));
                    long v =
                        db.versions
                            .computeIfAbsent(ref.id(), k -> new AtomicLong(1))
                            .incrementAndGet();
                    target.apply(List.of(event(ref, v)));
                    Thread.sleep(1);
                  }
                  return null;
                }));
      }
      var r = java.util.concurrent.ThreadLocalRandom.current();
      while (System.nanoTime() < readersUntil) {
        List<CompletableFuture<CacheClient.Versioned>> batch = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          batch.add(reader.read(cache, refs.get(r.nextInt(refs.size())), db));
        }
        CompletableFuture.allOf(batch.toArray(CompletableFuture[]::new))
            .get(WAIT_SECONDS, TimeUnit.SECONDS);
      }
      for (var f : running) {
        f.get(WAIT_SECONDS, TimeUnit.SECONDS);
      }
    } finally {
      writers.shutdownNow();
    }
    // Drained: every event is applied. A read now must see the newest version of every aggregate.
    int stale = 0;
    for (AggregateRef ref : refs) {
      long newest = db.versions.computeIfAbsent(ref.id(), k -> new AtomicLong(1)).get();
      CacheClient.Versioned v = reader.read(cache, ref, db).get(WAIT_SECONDS, TimeUnit.SECONDS);
      if (v.version() < newest) {
        stale++;
      }
    }
    System.out.printf(
        "race: %d of %d aggregates stale after the drain, %d fills refused by the fence%n",
        stale, refs.size(), cache.stats().fillsRejected());
    return new Race(stale, cache.stats().fillsRejected());
  }

  private CompletableFuture<CacheClient.Versioned> fencedReader(
      CacheClient cache, AggregateRef ref, Db db) {
    return cache.getAsync(ref.tenantId(), ref.type(), ref.id(), "summary", () -> db.read(ref));
  }

  private CompletableFuture<CacheClient.Versioned> naiveReader(
      CacheClient cache, AggregateRef ref, Db db) {
    return new NaiveAsyncCache(redis.async(), keys.entry(ref, "summary")).get(() -> db.read(ref));
  }

  /**
   * Cache-aside as commonly written: read the entry, on a miss load and write it back. The daemon's
   * target unlinks the entry on an invalidation, so only the stale-set race can leave it stale.
   */
  private record NaiveAsyncCache(RedisAsyncCommands<String, String> redis, String key) {
    CompletableFuture<CacheClient.Versioned> get(CacheClient.AsyncLoader loader) {
      return redis
          .hmget(key, "ver", "val")
          .toCompletableFuture()
          .thenCompose(
              fields -> {
                if (fields.get(0).hasValue() && fields.get(1).hasValue()) {
                  return CompletableFuture.completedFuture(
                      new CacheClient.Versioned(
                          Long.parseLong(fields.get(0).getValue()),
                          fields.get(1).getValue().getBytes(StandardCharsets.UTF_8)));
                }
                return loader
                    .load()
                    .toCompletableFuture()
                    .thenCompose(
                        loaded ->
                            redis
                                .hset(
                                    key,
                                    Map.of(
                                        "ver",
                                        Long.toString(loaded.version()),
                                        "val",
                                        text(loaded)))
                                .toCompletableFuture()
                                .thenApply(n -> loaded));
              });
    }
  }

  // --- helpers -------------------------------------------------------------------------------

  private CacheClient cache() {
    CacheClient c = CacheClient.builder().redisClient(TestRedis.CLIENT).keyScheme(keys).build();
    caches.add(c);
    return c;
  }

  private static CompletableFuture<CacheClient.Versioned> getAsync(
      CacheClient cache, CacheClient.AsyncLoader loader) {
    return cache.getAsync(ORDER.tenantId(), ORDER.type(), ORDER.id(), "summary", loader);
  }

  /** The future's value, or what it failed with (unwrapped, as get would throw it). */
  private static CacheClient.Versioned await(CompletableFuture<CacheClient.Versioned> f)
      throws Exception {
    try {
      return f.get(WAIT_SECONDS, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException ex) {
      Throwable cause = ex.getCause();
      while (cause instanceof CompletionException && cause.getCause() != null) {
        cause = cause.getCause();
      }
      if (cause instanceof Exception e) {
        throw e;
      }
      throw (Error) cause;
    }
  }
}
