package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static dev.invalidator.redis.TestRedis.fill;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class VersionGatedRedisTargetTest {
  private static final Duration FENCE_TTL = Duration.ofMinutes(15);
  private static final AggregateRef PRODUCT = new AggregateRef("acme", "product", "42");

  private static StatefulRedisConnection<String, String> redis;

  private final List<KeyScheme> schemes = new ArrayList<>();
  private final List<CacheClient> caches = new ArrayList<>();
  private KeyScheme keys;
  private VersionGatedRedisTarget target;
  private CacheClient cache;

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
    keys = scheme();
    target = new VersionGatedRedisTarget(redis, keys, FENCE_TTL);
    cache = cache(keys);
  }

  @AfterEach
  void tearDown() {
    caches.forEach(CacheClient::close);
    schemes.forEach(k -> TestRedis.deleteAll(redis, k));
  }

  @Test
  void invalidationRaisesFenceAndUnlinksOlderViews() {
    fill(cache, PRODUCT, "summary", 3);
    fill(cache, PRODUCT, "detail", 3);
    fill(cache, PRODUCT, "price", 5);

    assertThat(target.apply(List.of(event(PRODUCT, 4)))).containsExactly(ApplyResult.APPLIED);

    assertThat(redis.sync().get(keys.fence(PRODUCT))).isEqualTo("4");
    long ttl = redis.sync().pttl(keys.fence(PRODUCT));
    assertThat(ttl).isPositive().isLessThanOrEqualTo(FENCE_TTL.toMillis());
    assertThat(redis.sync().exists(keys.entry(PRODUCT, "summary"))).isZero();
    assertThat(redis.sync().exists(keys.entry(PRODUCT, "detail"))).isZero();
    // Read at version 5, newer than the event: still current.
    assertThat(redis.sync().hget(keys.entry(PRODUCT, "price"), "ver")).isEqualTo("5");
    assertThat(redis.sync().smembers(keys.views(PRODUCT))).containsExactly("price");
  }

  @Test
  void anEventThatFailsInABatchFailsAloneAndTheOthersAreApplied() {
    AggregateRef broken = new AggregateRef("acme", "product", "broken");
    AggregateRef other = new AggregateRef("acme", "product", "other");
    fill(cache, PRODUCT, "summary", 1);
    fill(cache, other, "summary", 1);
    // A fence that is not a string: GET fails with WRONGTYPE inside the script, which fails the
    // batch's one call; the target then applies event by event.
    redis.sync().hset(keys.fence(broken), Map.of("not", "a fence"));

    List<ApplyResult> results =
        target.apply(List.of(event(PRODUCT, 2), event(broken, 2), event(other, 2)));

    assertThat(results.get(0)).isEqualTo(ApplyResult.APPLIED);
    assertThat(results.get(1).succeeded()).isFalse();
    assertThat(results.get(2)).isEqualTo(ApplyResult.APPLIED);
    assertThat(redis.sync().exists(keys.entry(PRODUCT, "summary"))).isZero();
    assertThat(redis.sync().exists(keys.entry(other, "summary"))).isZero();
    assertThat(redis.sync().get(keys.fence(other))).isEqualTo("2");
  }

  @Test
  void olderEventIsStaleSkipped() {
    assertThat(target.apply(List.of(event(PRODUCT, 5)))).containsExactly(ApplyResult.APPLIED);
    fill(cache, PRODUCT, "summary", 5);

    List<ApplyResult> results =
        target.apply(List.of(event(PRODUCT, 3, "summary"), event(PRODUCT, 5, "summary")));

    assertThat(results).containsExactly(ApplyResult.STALE_SKIPPED, ApplyResult.STALE_SKIPPED);
    assertThat(redis.sync().get(keys.fence(PRODUCT))).isEqualTo("5");
    assertThat(redis.sync().hget(keys.entry(PRODUCT, "summary"), "ver")).isEqualTo("5");
  }

  @Test
  void registeredViewsAreFoundWithoutBeingListed() {
    fill(cache, PRODUCT, "summary", 1);
    fill(cache, PRODUCT, "detail", 1);
    assertThat(redis.sync().smembers(keys.views(PRODUCT)))
        .containsExactlyInAnyOrder("summary", "detail");

    assertThat(target.apply(List.of(event(PRODUCT, 2)))).containsExactly(ApplyResult.APPLIED);

    assertThat(redis.sync().exists(keys.entry(PRODUCT, "summary"), keys.entry(PRODUCT, "detail")))
        .isZero();
    assertThat(redis.sync().exists(keys.views(PRODUCT))).isZero();
  }

  @Test
  void listedViewIsUnlinkedEvenIfNoFillRegisteredIt() {
    // Written by a reader that does not use CacheClient, so it is not in the registry.
    redis.sync().hset(keys.entry(PRODUCT, "legacy"), Map.of("ver", "1", "val", "old"));

    target.apply(List.of(event(PRODUCT, 2, "legacy")));

    assertThat(redis.sync().exists(keys.entry(PRODUCT, "legacy"))).isZero();
  }

  @Test
  void expiredViewIsPrunedFromTheRegistry() {
    fill(cache, PRODUCT, "summary", 7);
    redis.sync().sadd(keys.views(PRODUCT), "gone");

    assertThat(target.apply(List.of(event(PRODUCT, 7)))).containsExactly(ApplyResult.APPLIED);

    assertThat(redis.sync().smembers(keys.views(PRODUCT))).containsExactly("summary");
  }

  @Test
  void versionsBeyondDoublePrecisionCompareExactly() {
    long v = 1L << 53; // 2^53 + 1 is not a double: as Lua numbers both would be equal
    fill(cache, PRODUCT, "summary", v);

    assertThat(target.apply(List.of(event(PRODUCT, v + 1)))).containsExactly(ApplyResult.APPLIED);

    assertThat(redis.sync().exists(keys.entry(PRODUCT, "summary"))).isZero();
    assertThat(redis.sync().get(keys.fence(PRODUCT))).isEqualTo(Long.toString(v + 1));
    assertThat(target.apply(List.of(event(PRODUCT, v)))).containsExactly(ApplyResult.STALE_SKIPPED);
  }

  @Test
  void fenceTtlMustBePositive() {
    assertThatThrownBy(() -> new VersionGatedRedisTarget(redis, keys, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("fenceTtl");
  }

  /** G4: duplicates and any order leave the state of one in-order delivery. */
  @Test
  void sameEventsTwiceAndReversedLeaveStateOfOneInOrderDelivery() {
    KeyScheme inOrder = scheme();
    KeyScheme shuffled = scheme();
    KeyScheme naive = scheme();
    List<AggregateRef> aggregates = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      aggregates.add(new AggregateRef("acme", "product", "p" + i));
    }
    List<String> views = List.of("summary", "detail", "price");
    List<InvalidationEvent> events = new ArrayList<>();
    Random random = new Random(4242);
    for (AggregateRef ref : aggregates) {
      for (long v = 1; v <= 6; v++) {
        events.add(v % 2 == 0 ? event(ref, v, "legacy") : event(ref, v));
      }
    }
    // The same entries under each prefix: registered views at versions 0..8, and an unregistered
    // "legacy" view that only events listing it can reach.
    List<KeyScheme> all = List.of(inOrder, shuffled, naive);
    List<CacheClient> fillers = all.stream().map(this::cache).toList();
    for (AggregateRef ref : aggregates) {
      for (String view : views) {
        long version = random.nextInt(9);
        fillers.forEach(c -> fill(c, ref, view, version));
      }
      String legacyVersion = Integer.toString(random.nextInt(9));
      for (KeyScheme k : all) {
        redis.sync().hset(k.entry(ref, "legacy"), Map.of("ver", legacyVersion, "val", "x"));
      }
    }
    assertThat(snapshot(inOrder)).isEqualTo(snapshot(shuffled));

    VersionGatedRedisTarget first = new VersionGatedRedisTarget(redis, inOrder, FENCE_TTL);
    for (InvalidationEvent e : events) {
      first.apply(List.of(e));
    }
    List<InvalidationEvent> disordered = new ArrayList<>(events);
    disordered.addAll(events);
    Collections.reverse(disordered);
    Collections.shuffle(disordered.subList(0, disordered.size() / 2), new Random(7));
    VersionGatedRedisTarget second = new VersionGatedRedisTarget(redis, shuffled, FENCE_TTL);
    for (int i = 0; i < disordered.size(); i += 7) {
      assertThat(second.apply(disordered.subList(i, Math.min(i + 7, disordered.size()))))
          .allMatch(ApplyResult::succeeded);
    }

    Map<String, String> expected = snapshot(inOrder);
    assertThat(snapshot(shuffled)).isEqualTo(expected);
    for (AggregateRef ref : aggregates) {
      assertThat(expected).containsEntry(suffix(inOrder, inOrder.fence(ref)), "6");
    }
    assertThat(expected.keySet()).anyMatch(k -> k.contains(":v:")); // some entries are current
    assertThat(expected.keySet()).hasSizeLessThan(aggregates.size() * (views.size() + 3));

    // Negative control: a last-writer-wins fence applied in the same disorder is caught.
    for (InvalidationEvent e : disordered) {
      redis.sync().set(naive.fence(e.aggregate()), Long.toString(e.aggregateVersion()));
    }
    assertThat(snapshot(naive)).isNotEqualTo(expected);
  }

  private KeyScheme scheme() {
    KeyScheme k = TestRedis.randomKeys();
    schemes.add(k);
    return k;
  }

  private CacheClient cache(KeyScheme k) {
    CacheClient c =
        CacheClient.builder().redisClient(TestRedis.CLIENT).keyScheme(k).ttlJitter(0).build();
    caches.add(c);
    return c;
  }

  /** Every key under the scheme, without its prefix, with its value (TTLs aside). */
  private static Map<String, String> snapshot(KeyScheme k) {
    Map<String, String> out = new TreeMap<>();
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<String> page =
          redis.sync().scan(cursor, ScanArgs.Builder.matches(k.prefix() + ":*").limit(500));
      for (String key : page.getKeys()) {
        String type = redis.sync().type(key);
        String value =
            switch (type) {
              case "string" -> redis.sync().get(key);
              case "hash" -> new TreeMap<>(redis.sync().hgetall(key)).toString();
              case "set" ->
                  // tag sets hold full entry keys: compare them without the prefix too
                  new TreeSet<>(
                          redis.sync().smembers(key).stream()
                              .map(m -> m.startsWith(k.prefix() + ":") ? suffix(k, m) : m)
                              .toList())
                      .toString();
              default -> type;
            };
        out.put(suffix(k, key), value);
      }
      cursor = page;
    } while (!cursor.isFinished());
    return out;
  }

  private static String suffix(KeyScheme k, String key) {
    return key.substring(k.prefix().length());
  }
}
