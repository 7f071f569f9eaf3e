package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.text;
import static dev.invalidator.redis.TestRedis.value;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.FlushEvents;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Tag sets: registration on fills, walks, pruning, tenant scope and the tag-generation race. */
class TagInvalidationTest {
  private static final String TAG = "catalog";
  private static final String VIEW = "card";

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
    target =
        new VersionGatedRedisTarget(
            redis, keys, Duration.ofMinutes(15), new VersionGatedRedisTarget.Options(7, 0));
  }

  @AfterEach
  void tearDown() {
    caches.forEach(CacheClient::close);
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void fillRegistersEntryInItsTagSetsWithATtlAtLeastTheEntrys() {
    CacheClient cache = cache();
    AggregateRef p = product("acme", "1");

    fill(cache, p, List.of(TAG, "homepage"), 3, "v");

    String entry = keys.entry(p, VIEW);
    assertThat(redis.sync().smembers(keys.tag("acme", TAG))).containsExactly(entry);
    assertThat(redis.sync().smembers(keys.tag("acme", "homepage"))).containsExactly(entry);
    assertThat(redis.sync().smembers(keys.tag("acme", KeyScheme.ALL_TAG))).containsExactly(entry);
    assertThat(redis.sync().pttl(keys.tag("acme", TAG)))
        .isGreaterThanOrEqualTo(redis.sync().pttl(entry));
  }

  @Test
  void tagEventUnlinksEveryMemberAndOnlyThem() {
    CacheClient cache = cache();
    List<AggregateRef> tagged = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      tagged.add(product("acme", "p" + i));
      fill(cache, tagged.get(i), List.of(TAG), 1, "v");
    }
    AggregateRef other = product("acme", "other");
    fill(cache, other, List.of("homepage"), 1, "v");

    List<ApplyResult> results = target.apply(List.of(FlushEvents.tag("acme", TAG, 1)));

    assertThat(results).containsExactly(ApplyResult.APPLIED);
    for (AggregateRef p : tagged) {
      assertThat(redis.sync().exists(keys.entry(p, VIEW))).as("entry of %s", p).isZero();
    }
    assertThat(redis.sync().exists(keys.entry(other, VIEW))).isOne();
    assertThat(redis.sync().scard(keys.tag("acme", TAG))).as("walked set is emptied").isZero();
    assertThat(redis.sync().get(keys.tagGeneration("acme", TAG))).isNotNull();
    assertThat(redis.sync().hget(keys.tagWalk("acme", TAG), "scanned")).isEqualTo("40");
  }

  @Test
  void tenantFlushReachesEveryEntryOfTheTenantAndNoOther() {
    CacheClient cache = cache();
    AggregateRef a1 = product("acme", "1");
    AggregateRef a2 = new AggregateRef("acme", "order", "9");
    AggregateRef g1 = product("globex", "1");
    fill(cache, a1, List.of(), 1, "v");
    fill(cache, a2, List.of(TAG), 1, "v");
    fill(cache, g1, List.of(), 1, "v");

    target.apply(List.of(FlushEvents.tenant("acme", 1)));

    assertThat(redis.sync().exists(keys.entry(a1, VIEW), keys.entry(a2, VIEW))).isZero();
    assertThat(redis.sync().exists(keys.entry(g1, VIEW))).isOne();
  }

  @Test
  void tagEventOfOneTenantNeverReachesAnotherTenantsEntries() {
    CacheClient cache = cache();
    AggregateRef acme = product("acme", "1");
    AggregateRef globex = product("globex", "1");
    fill(cache, acme, List.of(TAG), 1, "v");
    fill(cache, globex, List.of(TAG), 1, "v");
    // A member that names another tenant's entry (written by hand: fills never do this).
    redis.sync().sadd(keys.tag("acme", TAG), keys.entry(globex, VIEW));

    target.apply(List.of(FlushEvents.tag("acme", TAG, 1)));

    assertThat(redis.sync().exists(keys.entry(acme, VIEW))).isZero();
    assertThat(redis.sync().exists(keys.entry(globex, VIEW)))
        .as("globex's entry survives acme's tag event")
        .isOne();
    assertThat(redis.sync().smembers(keys.tag("globex", TAG)))
        .containsExactly(keys.entry(globex, VIEW));
    assertThat(redis.sync().get(keys.tagGeneration("globex", TAG))).isNull();
  }

  @Test
  void pruneRemovesMembersWhoseEntryIsGoneAndKeepsTheOthers() {
    CacheClient cache = cache();
    List<AggregateRef> products = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      products.add(product("acme", "p" + i));
      fill(cache, products.get(i), List.of(TAG), 1, "v");
    }
    // Only after every fill: a fill's own opportunistic prune must not get there first.
    List<String> alive = new ArrayList<>();
    for (int i = 0; i < products.size(); i++) {
      if (i % 2 == 0) {
        redis.sync().unlink(keys.entry(products.get(i), VIEW)); // as if it expired
      } else {
        alive.add(keys.entry(products.get(i), VIEW));
      }
    }

    long removed = target.pruneTag("acme", TAG, 100);

    assertThat(removed).isEqualTo(5);
    assertThat(redis.sync().smembers(keys.tag("acme", TAG)))
        .containsExactlyInAnyOrderElementsOf(alive);
  }

  @Test
  void fillThatLoadedBeforeATagInvalidationIsRefused() {
    CacheClient cache = cache();
    AggregateRef p = product("acme", "1");
    CacheClient.Versioned served =
        cache.get(
            "acme",
            p.type(),
            p.id(),
            VIEW,
            List.of(TAG),
            () -> {
              CacheClient.Versioned read = value(1, "old catalog");
              // The catalog changes and its tag invalidation is applied while we hold "old".
              target.apply(List.of(FlushEvents.tag("acme", TAG, 1)));
              return read;
            });

    assertThat(text(served)).isEqualTo("old catalog");
    assertThat(cache.tagStats().fillsRejectedByTag()).isEqualTo(1);
    assertThat(redis.sync().exists(keys.entry(p, VIEW))).isZero();
  }

  @Test
  void fillOvertakenBetweenWriteAndReCheckUnlinksItself() {
    CacheClient cache = cache();
    AggregateRef p = product("acme", "1");
    // The cross-slot window: the entry is written, then a tag walk runs before the re-check.
    // The walk may or may not see the entry; the re-check must remove it either way.
    cache.afterTaggedFill = () -> target.apply(List.of(FlushEvents.tag("acme", TAG, 1)));

    fill(cache, p, List.of(TAG), 1, "old catalog");

    assertThat(redis.sync().exists(keys.entry(p, VIEW))).isZero();
    assertThat(cache.tagStats().fillsUndoneByTag()).isEqualTo(1);
  }

  /**
   * The tag-generation race under load: readers fill entries whose content depends on a "catalog"
   * that writers change, each change followed by its tag invalidation (as the pipeline would). Once
   * the writers stop and every invalidation is applied, every entry left must hold the latest
   * catalog.
   */
  @Test
  void racingTaggedFillsNeverLeaveAStaleEntry() throws Exception {
    CacheClient cache = cache();
    Race race = new Race(cache, false);

    List<String> stale = race.run();

    assertThat(stale).as("stale entries after drain").isEmpty();
    System.out.printf(
        "tag race: %d invalidations, %s, %s%n",
        race.invalidations.get(), cache.stats(), cache.tagStats());
  }

  /** Negative control: a fill that ignores tag generations is caught by the same checker. */
  @Test
  void checkerCatchesAFillThatIgnoresTagGenerations() throws Exception {
    CacheClient cache = cache();
    Race race = new Race(cache, true);

    List<String> stale = race.run();

    assertThat(stale).as("the naive fill must leave stale entries").isNotEmpty();
  }

  private final class Race {
    final CacheClient cache;
    final boolean naive;
    final AtomicLong catalog = new AtomicLong();
    final AtomicLong invalidations = new AtomicLong();
    final List<AggregateRef> products = new ArrayList<>();

    Race(CacheClient cache, boolean naive) {
      this.cache = cache;
      this.naive = naive;
      for (int i = 0; i < 8; i++) {
        products.add(product("acme", "r" + i));
      }
    }

    List<String> run() throws Exception {
      AtomicBoolean stop = new AtomicBoolean();
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<?>> running = new ArrayList<>();
      try {
        running.add(
            pool.submit(
                () -> {
                  while (!stop.get()) {
                    catalog.incrementAndGet(); // the "commit"
                    LockSupport.parkNanos(200_000);
                    assertThat(target.apply(List.of(FlushEvents.tag("acme", TAG, 1))))
                        .allMatch(ApplyResult::succeeded);
                    invalidations.incrementAndGet();
                  }
                }));
        for (int r = 0; r < 3; r++) {
          running.add(
              pool.submit(
                  () -> {
                    int i = 0;
                    while (!stop.get()) {
                      read(products.get(i++ % products.size()));
                    }
                  }));
        }
        long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (System.nanoTime() < until) {
          LockSupport.parkNanos(10_000_000);
        }
        stop.set(true);
        for (Future<?> f : running) {
          f.get(30, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
      // One last read that loads, then the final change and invalidation, then its write.
      AggregateRef last = products.get(0);
      redis.sync().unlink(keys.entry(last, VIEW));
      read(
          last,
          () -> {
            catalog.incrementAndGet();
            target.apply(List.of(FlushEvents.tag("acme", TAG, 1)));
          });
      // Drained: every catalog change has been applied. Check every entry.
      String want = "catalog " + catalog.get();
      List<String> stale = new ArrayList<>();
      for (AggregateRef p : products) {
        String val = redis.sync().hget(keys.entry(p, VIEW), "val");
        if (val != null && !val.equals(want)) {
          stale.add(p + " holds '" + val + "', database has '" + want + "'");
        }
      }
      return stale;
    }

    void read(AggregateRef p) {
      read(p, () -> {});
    }

    void read(AggregateRef p, Runnable duringLoad) {
      if (!naive) {
        cache.get(
            "acme",
            p.type(),
            p.id(),
            VIEW,
            List.of(TAG),
            () -> {
              CacheClient.Versioned v = value(1, "catalog " + catalog.get());
              LockSupport.parkNanos(100_000);
              duringLoad.run();
              return v;
            });
        return;
      }
      // The naive fill: register and write, no generations, no re-check.
      String entry = keys.entry(p, VIEW);
      if (redis.sync().exists(entry) == 1) {
        return;
      }
      String v = "catalog " + catalog.get();
      LockSupport.parkNanos(100_000);
      duringLoad.run();
      redis.sync().sadd(keys.tag("acme", TAG), entry);
      redis.sync().hset(entry, java.util.Map.of("ver", "1", "val", v));
    }
  }

  private CacheClient cache() {
    CacheClient c =
        CacheClient.builder().redisClient(TestRedis.CLIENT).keyScheme(keys).ttlJitter(0).build();
    caches.add(c);
    return c;
  }

  private static AggregateRef product(String tenant, String id) {
    return new AggregateRef(tenant, "product", id);
  }

  private static void fill(
      CacheClient cache, AggregateRef p, List<String> tags, long version, String text) {
    cache.get(p.tenantId(), p.type(), p.id(), VIEW, tags, () -> value(version, text));
  }
}
