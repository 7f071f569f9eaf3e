package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static dev.invalidator.redis.TestRedis.text;
import static dev.invalidator.redis.TestRedis.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.testing.MutableClock;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.api.StatefulRedisConnection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CacheClientTest {
  private static final AggregateRef ORDER = new AggregateRef("acme", "order", "o-1");

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
  void missLoadsFillsAndThenHits() {
    CacheClient cache = cache(CacheClient.builder());
    AtomicInteger loads = new AtomicInteger();
    CacheClient.Loader loader =
        () -> {
          loads.incrementAndGet();
          return value(3, "order v3");
        };

    assertThat(text(get(cache, "summary", loader))).isEqualTo("order v3");
    CacheClient.Versioned second = get(cache, "summary", loader);

    assertThat(second.version()).isEqualTo(3);
    assertThat(text(second)).isEqualTo("order v3");
    assertThat(loads).hasValue(1);
    assertThat(cache.stats())
        .extracting(CacheClient.Stats::hits, CacheClient.Stats::misses, CacheClient.Stats::fills)
        .containsExactly(1L, 1L, 1L);
  }

  @Test
  void staleFillIsRejectedAfterInvalidation() {
    CacheClient cache = cache(CacheClient.builder());
    // The reader loaded v1; meanwhile v2 committed and its invalidation raised the fence.
    target.apply(List.of(event(ORDER, 2)));

    CacheClient.Versioned served = get(cache, "summary", () -> value(1, "order v1"));

    assertThat(text(served)).as("the caller still gets what it read").isEqualTo("order v1");
    assertThat(cache.stats().fillsRejected()).isEqualTo(1);
    assertThat(cache.stats().fills()).isZero();
    assertThat(redis.sync().exists(keys.entry(ORDER, "summary"))).isZero();

    get(cache, "summary", () -> value(2, "order v2"));
    assertThat(redis.sync().hget(keys.entry(ORDER, "summary"), "ver")).isEqualTo("2");
  }

  @Test
  void fillOlderThanDeadlineIsDropped() {
    MutableClock clock = new MutableClock(Instant.parse("2025-01-01T00:00:00Z"));
    CacheClient cache =
        cache(CacheClient.builder().clock(clock).fillDeadline(Duration.ofSeconds(5)));

    CacheClient.Versioned slow =
        get(
            cache,
            "summary",
            () -> {
              clock.advance(Duration.ofSeconds(6));
              return value(1, "slow");
            });

    assertThat(text(slow)).isEqualTo("slow");
    assertThat(cache.stats().fillsDroppedLate()).isEqualTo(1);
    assertThat(redis.sync().exists(keys.entry(ORDER, "summary"))).isZero();

    get(
        cache,
        "summary",
        () -> {
          clock.advance(Duration.ofSeconds(4));
          return value(1, "in time");
        });
    assertThat(redis.sync().hget(keys.entry(ORDER, "summary"), "val")).isEqualTo("in time");
  }

  @Test
  void entryOlderThanFenceIsNotServed() {
    CacheClient cache = cache(CacheClient.builder());
    get(cache, "summary", () -> value(1, "order v1"));
    // The fence moved to 2 but the entry is still there (e.g. an UNLINK not yet run).
    redis.sync().set(keys.fence(ORDER), "2");
    AtomicInteger loads = new AtomicInteger();

    CacheClient.Versioned served =
        get(
            cache,
            "summary",
            () -> {
              loads.incrementAndGet();
              return value(2, "order v2");
            });

    assertThat(text(served)).isEqualTo("order v2");
    assertThat(loads).hasValue(1);
    assertThat(cache.stats().hits()).isZero();
    assertThat(text(get(cache, "summary", () -> value(9, "not called")))).isEqualTo("order v2");
    assertThat(cache.stats().hits()).as("an entry at the fence's version is served").isOne();
  }

  @Test
  void hotMissLoadsOnce() throws Exception {
    CacheClient cache = cache(CacheClient.builder());
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch release = new CountDownLatch(1);
    CacheClient.Loader loader =
        () -> {
          loads.incrementAndGet();
          if (!release.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("never released");
          }
          return value(4, "order v4");
        };
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      List<Future<CacheClient.Versioned>> results = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        results.add(pool.submit(() -> get(cache, "summary", loader)));
      }
      // Everyone but the loading caller is waiting on its load: release it.
      await().atMost(Duration.ofSeconds(20)).until(() -> cache.stats().loadsShared() == 15);
      release.countDown();

      for (Future<CacheClient.Versioned> f : results) {
        assertThat(f.get(20, TimeUnit.SECONDS).version()).isEqualTo(4);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(loads).hasValue(1);
    assertThat(cache.stats().loads()).isEqualTo(1);
    assertThat(cache.stats().fills()).isEqualTo(1);
  }

  @Test
  void loaderFailureIsReportedAndNothingIsCached() {
    CacheClient cache = cache(CacheClient.builder());

    assertThatThrownBy(
            () ->
                get(
                    cache,
                    "summary",
                    () -> {
                      throw new SQLException("database is down");
                    }))
        .isInstanceOf(InvalidatorException.class)
        .hasCauseInstanceOf(SQLException.class);
    assertThat(redis.sync().exists(keys.entry(ORDER, "summary"))).isZero();
  }

  @Test
  void ttlHasJitterWithinBounds() {
    Duration entryTtl = Duration.ofSeconds(100);
    CacheClient cache = cache(CacheClient.builder().entryTtl(entryTtl).ttlJitter(0.2));
    List<Long> ttls = new ArrayList<>();

    for (int i = 0; i < 40; i++) {
      AggregateRef ref = new AggregateRef("acme", "order", "o-" + i);
      TestRedis.fill(cache, ref, "summary", 1);
      ttls.add(redis.sync().pttl(keys.entry(ref, "summary")));
    }

    // Lower bound: 80 s, less the time the test itself took since the fill.
    assertThat(ttls).allSatisfy(t -> assertThat(t).isBetween(75_000L, 100_000L));
    long spread =
        ttls.stream().mapToLong(Long::longValue).max().getAsLong()
            - ttls.stream().mapToLong(Long::longValue).min().getAsLong();
    assertThat(spread).as("TTLs are spread, not equal").isGreaterThan(1_000L);
    assertThat(redis.sync().pttl(keys.views(new AggregateRef("acme", "order", "o-0"))))
        .as("the view registry lives as long as a fence")
        .isGreaterThan(entryTtl.toMillis());
  }

  @Test
  void missingRowCachesNothing() {
    CacheClient cache = cache(CacheClient.builder());

    assertThat(get(cache, "summary", () -> null)).isNull();

    assertThat(redis.sync().exists(keys.entry(ORDER, "summary"), keys.views(ORDER))).isZero();
    assertThat(cache.stats().loads()).isEqualTo(1);
  }

  @Test
  void readFallsBackToLoaderWhenRedisFails() {
    CacheClient cache = cache(CacheClient.builder());
    cache.close();

    CacheClient.Versioned served = get(cache, "summary", () -> value(1, "from the database"));

    assertThat(text(served)).isEqualTo("from the database");
    assertThat(cache.stats().redisErrors()).isPositive();
  }

  @Test
  void clientBuiltFromUrlOwnsItsConnection() {
    CacheClient cache =
        CacheClient.builder().redisUrl(TestServers.redisUrl()).keyScheme(keys).build();
    try {
      get(cache, "summary", () -> value(1, "v1"));
      assertThat(redis.sync().hget(keys.entry(ORDER, "summary"), "ver")).isEqualTo("1");
    } finally {
      cache.close();
    }
  }

  @Test
  void builderRejectsConflictingSettingsNamingThem() {
    assertThatThrownBy(
            () ->
                CacheClient.builder()
                    .redisClient(TestRedis.CLIENT)
                    .entryTtl(Duration.ofMinutes(10))
                    .fillDeadline(Duration.ofSeconds(5))
                    .fenceTtl(Duration.ofMinutes(10))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cache.fenceTtl")
        .hasMessageContaining("cache.fillDeadline");
    assertThatThrownBy(
            () -> CacheClient.builder().redisClient(TestRedis.CLIENT).ttlJitter(1.0).build())
        .hasMessageContaining("cache.ttlJitter");
    assertThatThrownBy(
            () ->
                CacheClient.builder()
                    .redisClient(TestRedis.CLIENT)
                    .redisUrl(TestServers.redisUrl())
                    .build())
        .hasMessageContaining("cache.redisClient");
    assertThatThrownBy(
            () ->
                CacheClient.builder().redisClient(TestRedis.CLIENT).entryTtl(Duration.ZERO).build())
        .hasMessageContaining("cache.entryTtl");
  }

  private CacheClient cache(CacheClient.Builder builder) {
    CacheClient c = builder.redisClient(TestRedis.CLIENT).keyScheme(keys).build();
    caches.add(c);
    return c;
  }

  private static CacheClient.Versioned get(
      CacheClient cache, String view, CacheClient.Loader loader) {
    return cache.get(ORDER.tenantId(), ORDER.type(), ORDER.id(), view, loader);
  }
}
