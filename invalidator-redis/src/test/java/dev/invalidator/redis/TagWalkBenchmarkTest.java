package dev.invalidator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.FlushEvents;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Keys per second of one large tag invalidation against the test Redis. A measurement, not a
 * guarantee: it prints the figure and asserts only that every member was unlinked. Off by default;
 * run with {@code -Dinvalidator.bench=true} (and {@code -Dinvalidator.bench.members=N}, default
 * 1,000,000).
 */
@EnabledIfSystemProperty(named = "invalidator.bench", matches = "true")
class TagWalkBenchmarkTest {
  private static final String POPULATE =
      "for i = tonumber(ARGV[2]), tonumber(ARGV[3]) do\n"
          + "  local k = ARGV[1] .. i .. '}:v:card'\n"
          + "  redis.call('SET', k, 'x')\n"
          + "  redis.call('SADD', KEYS[1], k)\n"
          + "end\n"
          + "return 1";

  @Test
  void tagWalkOfAMillionMembers() {
    int members = Integer.getInteger("invalidator.bench.members", 1_000_000);
    int batch = Integer.getInteger("invalidator.bench.batch", 1000);
    KeyScheme keys = TestRedis.randomKeys();
    try (StatefulRedisConnection<String, String> redis = TestRedis.CLIENT.connect()) {
      try {
        String set = keys.tag("acme", "big");
        String base = keys.prefix() + ":{acme|product|";
        long t0 = System.nanoTime();
        for (int from = 0; from < members; from += 10_000) {
          int to = Math.min(members, from + 10_000) - 1;
          redis
              .sync()
              .eval(
                  POPULATE,
                  ScriptOutputType.INTEGER,
                  new String[] {set},
                  base,
                  Integer.toString(from),
                  Integer.toString(to));
        }
        long populated = System.nanoTime() - t0;
        assertThat(redis.sync().scard(set)).isEqualTo(members);

        long start;
        long took;
        List<ApplyResult> r;
        try (VersionGatedRedisTarget target =
            new VersionGatedRedisTarget(
                redis,
                keys,
                Duration.ofMinutes(15),
                new VersionGatedRedisTarget.Options(batch, 0),
                TestRedis.CLIENT)) {
          start = System.nanoTime();
          r = target.apply(List.of(FlushEvents.tag("acme", "big", 1)));
          took = System.nanoTime() - start;
        }

        assertThat(r).containsExactly(ApplyResult.APPLIED);
        assertThat(redis.sync().scard(set)).isZero();
        assertThat(redis.sync().exists(base + "0}:v:card", base + (members - 1) + "}:v:card"))
            .isZero();
        System.out.printf(
            "tag walk benchmark: %d members (SSCAN COUNT %d) unlinked in %d ms = %.0f keys/s"
                + " (populating took %d ms)%n",
            members, batch, took / 1_000_000, members * 1e9 / took, populated / 1_000_000);
      } finally {
        TestRedis.deleteAll(redis, keys);
      }
    }
  }
}
