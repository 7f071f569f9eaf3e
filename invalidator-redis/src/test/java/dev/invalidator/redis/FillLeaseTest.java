package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.text;
import static dev.invalidator.redis.TestRedis.value;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Cross-process single flight: each {@link CacheClient} here stands for one process (its own
 * connection and its own in-process single flight); the fill lease in Redis makes a miss storm
 * across them load once.
 */
class FillLeaseTest {
  private static final AggregateRef HOT = new AggregateRef("acme", "product", "hot");
  private static final int PROCESSES = 8;
  private static final int THREADS = 4;

  private static StatefulRedisConnection<String, String> redis;

  private final List<CacheClient> caches = new ArrayList<>();
  private KeyScheme keys;

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
  }

  @AfterEach
  void tearDown() {
    caches.forEach(CacheClient::close);
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void missStormAcrossProcessesLoadsOnce() throws Exception {
    // A long lease: the test never depends on the load finishing within it.
    List<CacheClient> processes = processes(Duration.ofMinutes(1));
    AtomicInteger loads = new AtomicInteger();
    // The load ends only once every other process waits on its lease.
    List<CacheClient.Versioned> served =
        storm(
            processes,
            loads,
            () ->
                sum(processes, s -> s.loadsShared()) == PROCESSES * (THREADS - 1)
                    && sum(processes, s -> s.leaseWaits()) >= PROCESSES - 1);

    assertThat(loads).hasValue(1);
    assertThat(served)
        .hasSize(PROCESSES * THREADS)
        .allSatisfy(v -> assertThat(v.version()).isOne());
    assertThat(sum(processes, s -> s.leaseWaitsServed())).isEqualTo(PROCESSES - 1);
    assertThat(redis.sync().exists(keys.fillLease(HOT, "card"))).as("lease released").isZero();
  }

  /** Negative control: without the lease every process loads, so the test above can fail. */
  @Test
  void withoutTheLeaseEveryProcessLoads() throws Exception {
    List<CacheClient> processes = processes(Duration.ZERO);
    AtomicInteger loads = new AtomicInteger();

    List<CacheClient.Versioned> served =
        storm(
            processes,
            loads,
            () -> loads.get() == PROCESSES && sum(processes, s -> s.loadsShared()) == 24);

    assertThat(loads).hasValue(PROCESSES);
    assertThat(served).allSatisfy(v -> assertThat(v.version()).isOne());
    assertThat(sum(processes, s -> s.leaseWaits())).isZero();
  }

  @Test
  void leaseReleasedWithoutAFillLetsAWaiterLoad() throws Exception {
    CacheClient a = cache(Duration.ofMinutes(1));
    CacheClient b = cache(Duration.ofMinutes(1));
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      CountDownLatch aLoading = new CountDownLatch(1);
      Future<CacheClient.Versioned> first =
          pool.submit(
              () ->
                  get(
                      a,
                      () -> {
                        aLoading.countDown();
                        await()
                            .atMost(Duration.ofSeconds(20))
                            .until(() -> b.stats().leaseWaits() == 1);
                        return null; // no row, nothing cached: the lease is released unfilled
                      }));
      aLoading.await(20, TimeUnit.SECONDS);
      Future<CacheClient.Versioned> second = pool.submit(() -> get(b, () -> value(2, "b's load")));

      assertThat(first.get(20, TimeUnit.SECONDS)).isNull();
      assertThat(text(second.get(20, TimeUnit.SECONDS))).isEqualTo("b's load");
    } finally {
      pool.shutdownNow();
    }
    assertThat(b.stats().loads()).isOne();
    assertThat(b.stats().leaseWaitsServed()).isZero();
    assertThat(redis.sync().hget(keys.entry(HOT, "card"), "ver")).isEqualTo("2");
    assertThat(redis.sync().exists(keys.fillLease(HOT, "card"))).isZero();
  }

  @Test
  void waiterLoadsItselfOnceItsBoundHasPassed() throws Exception {
    CacheClient holder = cache(Duration.ofMinutes(1));
    CacheClient impatient = cache(Duration.ofMillis(50));
    CountDownLatch holderLoading = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(1);
    try {
      Future<CacheClient.Versioned> held =
          pool.submit(
              () ->
                  get(
                      holder,
                      () -> {
                        holderLoading.countDown();
                        release.await(20, TimeUnit.SECONDS);
                        return value(1, "holder's load");
                      }));
      holderLoading.await(20, TimeUnit.SECONDS);

      CacheClient.Versioned mine = get(impatient, () -> value(1, "own load"));

      assertThat(text(mine)).isEqualTo("own load");
      assertThat(impatient.stats().leaseWaits()).isOne();
      assertThat(impatient.stats().loads()).isOne();
      release.countDown();
      assertThat(text(held.get(20, TimeUnit.SECONDS))).isEqualTo("holder's load");
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void failedLoadReleasesTheLease() {
    CacheClient a = cache(Duration.ofMinutes(1));
    try {
      get(
          a,
          () -> {
            throw new IllegalStateException("database is down");
          });
    } catch (IllegalStateException expected) {
      // the loader's own exception
    }
    assertThat(redis.sync().exists(keys.fillLease(HOT, "card"))).isZero();

    assertThat(text(get(a, () -> value(1, "back")))).isEqualTo("back");
    assertThat(a.stats().leaseWaits()).isZero();
  }

  /**
   * Every thread of every process misses {@link #HOT} at once; the loader (counted in {@code
   * loads}) blocks until {@code releaseWhen} holds, so the storm is complete before anyone fills.
   */
  private static List<CacheClient.Versioned> storm(
      List<CacheClient> processes, AtomicInteger loads, BooleanSupplier releaseWhen)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(PROCESSES * THREADS);
    try {
      List<Future<CacheClient.Versioned>> results = new ArrayList<>();
      for (CacheClient p : processes) {
        for (int t = 0; t < THREADS; t++) {
          results.add(
              pool.submit(
                  () ->
                      get(
                          p,
                          () -> {
                            loads.incrementAndGet();
                            await().atMost(Duration.ofSeconds(30)).until(releaseWhen::getAsBoolean);
                            return value(1, "loaded");
                          })));
        }
      }
      List<CacheClient.Versioned> served = new ArrayList<>();
      for (Future<CacheClient.Versioned> f : results) {
        served.add(f.get(60, TimeUnit.SECONDS));
      }
      return served;
    } finally {
      pool.shutdownNow();
    }
  }

  private static long sum(
      List<CacheClient> processes, java.util.function.ToLongFunction<CacheClient.Stats> f) {
    return processes.stream().mapToLong(p -> f.applyAsLong(p.stats())).sum();
  }

  private List<CacheClient> processes(Duration lease) {
    List<CacheClient> list = new ArrayList<>();
    for (int i = 0; i < PROCESSES; i++) {
      list.add(cache(lease));
    }
    return list;
  }

  private CacheClient cache(Duration lease) {
    CacheClient c =
        CacheClient.builder()
            .redisClient(TestRedis.CLIENT)
            .keyScheme(keys)
            .tenantTag(false)
            .fillLease(lease)
            .build();
    caches.add(c);
    return c;
  }

  private static CacheClient.Versioned get(CacheClient c, CacheClient.Loader loader) {
    return c.get(HOT.tenantId(), HOT.type(), HOT.id(), "card", loader);
  }
}
