package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static dev.invalidator.redis.TestRedis.value;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The inspector applies exactly CacheClient's serve rule: it agrees with what get() serves. */
class CacheInspectorTest {
  private static final AggregateRef ORDER = new AggregateRef("acme", "order", "o-1");

  private static StatefulRedisConnection<String, String> redis;

  private KeyScheme keys;
  private CacheClient cache;
  private CacheInspector inspector;
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
    cache = CacheClient.builder().redisClient(TestRedis.CLIENT).keyScheme(keys).build();
    inspector = CacheInspector.create(TestRedis.CLIENT, keys);
    target = new VersionGatedRedisTarget(redis, keys, Duration.ofMinutes(15));
  }

  @AfterEach
  void tearDown() {
    cache.close();
    inspector.close();
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void filledViewIsServableAndRegistered() {
    cache.get("acme", "order", "o-1", "summary", () -> value(3, "v3"));

    CacheInspector.Served served = inspector.inspect(ORDER, List.of());

    assertThat(served.fence()).isEqualTo(-1);
    assertThat(served.views()).containsExactly(new CacheInspector.View("summary", 3, true));
    assertThat(served.oldestServable()).hasValue(3);
  }

  /**
   * A cached absence is served ("no row") like a value: once the row exists at a newer version, the
   * observer must see a servable view older than the database, not an empty cache.
   */
  @Test
  void cachedAbsenceIsServableAtItsVersion() {
    cache.get("acme", "order", "o-1", "summary", () -> CacheClient.Versioned.absentAt(2));

    CacheInspector.Served served = inspector.inspect(ORDER, List.of("summary"));

    assertThat(served.views()).containsExactly(new CacheInspector.View("summary", 2, true));
    assertThat(served.servableOlderThan(3)).hasSize(1);
  }

  @Test
  void entryOlderThanTheFenceIsNotServableJustAsCacheClientRefusesIt() {
    cache.get("acme", "order", "o-1", "summary", () -> value(3, "v3"));
    target.apply(List.of(event(ORDER, 5)));
    // A plain HSET of an old version after the invalidation: present, but fenced out.
    redis.sync().hset(keys.entry(ORDER, "summary"), Map.of("ver", "4", "val", "v4"));

    CacheInspector.Served served = inspector.inspect(ORDER, List.of("summary"));

    assertThat(served.fence()).isEqualTo(5);
    assertThat(served.views()).containsExactly(new CacheInspector.View("summary", 4, false));
    assertThat(served.servableOlderThan(5)).isEmpty();
    List<Long> loaded = new ArrayList<>();
    CacheClient.Versioned got =
        cache.get(
            "acme",
            "order",
            "o-1",
            "summary",
            () -> {
              loaded.add(5L);
              return value(5, "v5");
            });
    assertThat(loaded).as("CacheClient refused the same entry").containsExactly(5L);
    assertThat(got.version()).isEqualTo(5);
  }

  @Test
  void unregisteredViewIsFoundWhenNamedAndServableWithoutAFence() {
    // Invalidations dropped and a fill that bypassed CacheClient: nothing protects the reader.
    redis.sync().hset(keys.entry(ORDER, "card"), Map.of("ver", "2", "val", "v2"));

    assertThat(inspector.inspect(ORDER, List.of()).views()).isEmpty();
    CacheInspector.Served served = inspector.inspect(ORDER, Set.of("card"));

    assertThat(served.servableOlderThan(7))
        .containsExactly(new CacheInspector.View("card", 2, true));
  }

  @Test
  void scanFindsOnlyEntriesOfTheSchemeAndTenant() {
    cache.get("acme", "order", "o-1", "summary", () -> value(1, "a"));
    cache.get("acme", "order", "o-2", "summary", () -> value(1, "b"));
    cache.get("other", "order", "o-3", "summary", () -> value(1, "c"));

    List<KeyScheme.EntryKey> acme = new ArrayList<>();
    long n = inspector.scanEntries("acme", "order", 100, 100, acme::add);

    assertThat(n).isEqualTo(2);
    assertThat(acme).extracting(e -> e.aggregate().id()).containsExactlyInAnyOrder("o-1", "o-2");
    assertThat(inspector.scanEntries(null, null, 100, 100, e -> {})).isEqualTo(3);
    assertThat(keys.parseEntry(keys.fence(ORDER))).isEmpty();
    assertThat(keys.parseEntry(keys.entry(ORDER, "summary")))
        .hasValue(new KeyScheme.EntryKey(ORDER, "summary"));
  }
}
