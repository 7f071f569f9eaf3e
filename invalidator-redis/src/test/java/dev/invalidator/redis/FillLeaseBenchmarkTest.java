package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.value;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Database loads per hot-key miss storm across 8 clients (each its own connection and in-process
 * single flight, standing for 8 processes) with 4 threads each, with the fill lease and without. A
 * measurement, not a guarantee: it prints the figures and asserts only that every read got the
 * value. Off by default; run with {@code -Dinvalidator.bench=true} (and {@code
 * -Dinvalidator.bench.storms=N}, default 50; {@code -Dinvalidator.bench.loadMillis=N}, the
 * simulated database read, default 20).
 */
@EnabledIfSystemProperty(named = "invalidator.bench", matches = "true")
class FillLeaseBenchmarkTest {
  private static final int CLIENTS = 8;
  private static final int THREADS = 4;

  @Test
  void loadsPerMissStormWithAndWithoutTheFillLease() throws Exception {
    int storms = Integer.getInteger("invalidator.bench.storms", 50);
    long loadMillis = Long.getLong("invalidator.bench.loadMillis", 20);
    Result without = run(Duration.ZERO, storms, loadMillis);
    Result with = run(CacheClient.DEFAULT_FILL_LEASE, storms, loadMillis);
    System.out.printf(
        "fill lease benchmark: %d miss storms of %d clients x %d threads, loads of %d ms%n"
            + "  without lease: %.2f loads per storm (%d in all), storm p50 %d ms, max %d ms%n"
            + "  with lease:    %.2f loads per storm (%d in all), storm p50 %d ms, max %d ms%n",
        storms,
        CLIENTS,
        THREADS,
        loadMillis,
        without.loads / (double) storms,
        without.loads,
        without.p50Millis,
        without.maxMillis,
        with.loads / (double) storms,
        with.loads,
        with.p50Millis,
        with.maxMillis);
  }

  private record Result(int loads, long p50Millis, long maxMillis) {}

  private static Result run(Duration lease, int storms, long loadMillis) throws Exception {
    KeyScheme keys = TestRedis.randomKeys();
    List<CacheClient> clients = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(CLIENTS * THREADS);
    AtomicInteger loads = new AtomicInteger();
    long[] stormNanos = new long[storms];
    try (StatefulRedisConnection<String, String> redis = TestRedis.CLIENT.connect()) {
      try {
        for (int i = 0; i < CLIENTS; i++) {
          clients.add(
              CacheClient.builder()
                  .redisClient(TestRedis.CLIENT)
                  .keyScheme(keys)
                  .tenantTag(false)
                  .fillLease(lease)
                  .build());
        }
        for (int s = 0; s < storms; s++) {
          String id = "hot-" + s;
          CyclicBarrier start = new CyclicBarrier(CLIENTS * THREADS);
          List<Future<CacheClient.Versioned>> reads = new ArrayList<>();
          long t0 = System.nanoTime();
          for (CacheClient c : clients) {
            for (int t = 0; t < THREADS; t++) {
              reads.add(
                  pool.submit(
                      () -> {
                        start.await(30, TimeUnit.SECONDS);
                        return c.get(
                            "acme",
                            "product",
                            id,
                            "card",
                            () -> {
                              loads.incrementAndGet();
                              Thread.sleep(loadMillis); // the simulated database read
                              return value(1, "card of " + id);
                            });
                      }));
            }
          }
          for (Future<CacheClient.Versioned> f : reads) {
            assertThat(f.get(60, TimeUnit.SECONDS).version()).isEqualTo(1);
          }
          stormNanos[s] = System.nanoTime() - t0;
        }
      } finally {
        pool.shutdownNow();
        clients.forEach(CacheClient::close);
        TestRedis.deleteAll(redis, keys);
      }
    }
    Arrays.sort(stormNanos);
    return new Result(
        loads.get(),
        TimeUnit.NANOSECONDS.toMillis(stormNanos[storms / 2]),
        TimeUnit.NANOSECONDS.toMillis(stormNanos[storms - 1]));
  }
}
