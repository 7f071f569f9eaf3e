package dev.invalidator.bench;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.redis.CacheClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Scenario 5, fill path: {@link CacheClient#get} of an entry that is present and not fenced out
 * (one {@code read.lua} call: entry and fence in one round trip, version check in the client),
 * against a plain {@code HGET} of the same entry's value on a connection of the same Redis client.
 * Both share one connection between all clients, as {@code CacheClient} does; A-B-A-B.
 */
final class FillPathScenario {
  private FillPathScenario() {}

  static ScenarioResult run(BenchEnvironment env, BenchSettings s, PrintStream out)
      throws Exception {
    KeyScheme keys = env.keys("fill");
    AggregateRef ref = new AggregateRef("t1", RedisFixtures.TYPE, "a1");
    byte[] value =
        "{\"balance\":1234567,\"owner\":\"bench\",\"pad\":\"xxxxxxxx\"}"
            .getBytes(StandardCharsets.UTF_8);
    try (CacheClient cache =
            CacheClient.builder().redisClient(env.redis()).keyScheme(keys).build();
        StatefulRedisConnection<String, byte[]> plain =
            env.redis().connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE))) {
      cache.get(
          ref.tenantId(),
          ref.type(),
          ref.id(),
          RedisFixtures.VIEW,
          () -> new CacheClient.Versioned(1, value));
      CacheClient.Stats before = cache.stats();
      String entryKey = keys.entry(ref, RedisFixtures.VIEW);
      RedisCommands<String, byte[]> sync = plain.sync();
      CacheClient.Loader mustNotLoad =
          () -> {
            throw new IllegalStateException("the fill-path scenario expected a hit");
          };
      ClosedLoop.Op hit =
          client -> {
            if (cache.get(ref.tenantId(), ref.type(), ref.id(), RedisFixtures.VIEW, mustNotLoad)
                == null) {
              throw new IllegalStateException("CacheClient.get returned null on a hit");
            }
          };
      ClosedLoop.Op hget =
          client -> {
            if (sync.hget(entryKey, "val") == null) {
              throw new IllegalStateException("HGET found no entry");
            }
          };
      ClosedLoop.Result baseline = new ClosedLoop.Result();
      ClosedLoop.Result subject = new ClosedLoop.Result();
      Duration half = s.fillDuration().dividedBy(2);
      Duration warmup = WritePathScenario.min(Duration.ofSeconds(2), half.dividedBy(4));
      for (int round = 1; round <= 2; round++) {
        out.printf("  round %d/2: plain HGET for %d s...%n", round, half.toSeconds());
        ClosedLoop.run(s.clients(), warmup, half, hget, baseline);
        out.printf("  round %d/2: CacheClient.get for %d s...%n", round, half.toSeconds());
        ClosedLoop.run(s.clients(), warmup, half, hit, subject);
      }
      CacheClient.Stats after = cache.stats();
      env.deleteKeys(keys);
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("clients", s.clients());
      details.put("gets", subject.count);
      details.put("hgets", baseline.count);
      details.put("hitsCounted", after.hits() - before.hits());
      details.put("missesDuringRun", after.misses() - before.misses());
      details.put("valueBytes", value.length);
      return new ScenarioResult(
          "fill-path",
          "5. fill path (cache hit)",
          "CacheClient.get of a present, unfenced entry (read.lua: HGET ver and val plus GET"
              + " fence, one round trip, version check in the client), "
              + s.clients()
              + " clients sharing the client's one connection, closed loop",
          "plain HGET of the same entry's val on one shared connection of the same RedisClient,"
              + " same clients, alternated A-B-A-B",
          List.of(
              Figure.latency("hit latency p50 (ms)", subject.p50Ms(), baseline.p50Ms()),
              Figure.latency("hit latency p99 (ms)", subject.p99Ms(), baseline.p99Ms()),
              Figure.rate("hits/s", "ops/s", subject.perSecond(), baseline.perSecond())),
          details);
    }
  }
}
