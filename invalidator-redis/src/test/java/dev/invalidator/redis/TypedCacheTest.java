package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TypedCacheTest {
  private static final AggregateRef ACCOUNT = new AggregateRef("acme", "account", "42");

  record Account(String id, String plan, long balanceCents, List<String> owners) {}

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
  void jacksonValueIsStoredAsJsonAndServedAsAnEqualCopy() {
    TypedCache<Account> accounts = cache().typed(JacksonCodec.of(Account.class));
    Account pro = new Account("42", "pro", 1_250, List.of("ada", "grace"));
    AtomicInteger loads = new AtomicInteger();
    TypedCache.Loader<Account> loader =
        () -> {
          loads.incrementAndGet();
          return TypedCache.Loaded.of(7, pro);
        };

    Optional<Account> first = get(accounts, loader);
    TypedCache.Loaded<Account> second =
        accounts.getLoaded("acme", "account", "42", "summary", List.of(), loader);

    assertThat(first).containsSame(pro);
    assertThat(second.version()).isEqualTo(7);
    assertThat(second.value()).isEqualTo(pro).isNotSameAs(pro);
    assertThat(loads).hasValue(1);
    assertThat(redis.sync().hget(keys.entry(ACCOUNT, "summary"), "val"))
        .isEqualTo(
            "{\"id\":\"42\",\"plan\":\"pro\",\"balanceCents\":1250,\"owners\":[\"ada\",\"grace\"]}");
  }

  @Test
  void genericTypesAndTheApplicationsMapperAreUsed() {
    TypedCache<List<Account>> lists =
        cache().typed(JacksonCodec.of(new ObjectMapper(), new TypeReference<List<Account>>() {}));
    List<Account> page = List.of(new Account("1", "free", 0, List.of()));

    lists.get("acme", "account", "42", "page", () -> TypedCache.Loaded.of(1, page));
    Optional<List<Account>> cached =
        lists.get(
            "acme",
            "account",
            "42",
            "page",
            () -> {
              throw new AssertionError("served from Redis, not loaded");
            });

    assertThat(cached).contains(page);
  }

  @Test
  void stringAndByteCodecsRoundTrip() {
    CacheClient cache = cache();
    cache
        .typed(CacheCodec.utf8())
        .get("acme", "account", "42", "name", () -> TypedCache.Loaded.of(1, "Ada Lovelace é"));
    cache
        .typed(CacheCodec.bytes())
        .get("acme", "account", "42", "raw", () -> TypedCache.Loaded.of(1, new byte[] {0, -1, 7}));

    assertThat(
            cache
                .typed(CacheCodec.utf8())
                .get("acme", "account", "42", "name", TypedCacheTest::neverLoads))
        .contains("Ada Lovelace é");
    assertThat(
            cache
                .typed(CacheCodec.bytes())
                .get("acme", "account", "42", "raw", TypedCacheTest::neverLoads))
        .hasValueSatisfying(b -> assertThat(b).containsExactly(0, -1, 7));
  }

  @Test
  void staleTypedFillIsRejectedByTheFenceLikeABytesFill() {
    CacheClient cache = cache();
    TypedCache<Account> accounts = cache.typed(JacksonCodec.of(Account.class));
    target.apply(List.of(event(ACCOUNT, 2)));

    Optional<Account> served =
        get(accounts, () -> TypedCache.Loaded.of(1, new Account("42", "free", 0, List.of())));

    assertThat(served).map(Account::plan).contains("free");
    assertThat(cache.stats().fillsRejected()).isEqualTo(1);
    assertThat(redis.sync().exists(keys.entry(ACCOUNT, "summary"))).isZero();
  }

  @Test
  void undecodableEntryIsAMissServedFromTheLoader() {
    CacheClient cache = cache();
    cache
        .typed(CacheCodec.utf8())
        .get("acme", "account", "42", "summary", () -> TypedCache.Loaded.of(3, "not json"));
    TypedCache<Account> accounts = cache.typed(JacksonCodec.of(Account.class));
    Account fresh = new Account("42", "pro", 1, List.of());

    Optional<Account> served = get(accounts, () -> TypedCache.Loaded.of(3, fresh));

    assertThat(served).containsSame(fresh);
    assertThat(accounts.decodeFailures()).isEqualTo(1);
  }

  @Test
  void loaderReturningNullCachesNothingAndReadsEmpty() {
    CacheClient cache = cache();
    TypedCache<Account> accounts = cache.typed(JacksonCodec.of(Account.class));

    assertThat(get(accounts, () -> null)).isEmpty();
    assertThat(accounts.getLoaded("acme", "account", "42", "summary", List.of(), () -> null))
        .isNull();
    assertThat(redis.sync().exists(keys.entry(ACCOUNT, "summary"))).isZero();
  }

  private static <T> TypedCache.Loaded<T> neverLoads() {
    throw new AssertionError("served from Redis, not loaded");
  }

  private CacheClient cache() {
    CacheClient c = CacheClient.builder().redisClient(TestRedis.CLIENT).keyScheme(keys).build();
    caches.add(c);
    return c;
  }

  private static <T> Optional<T> get(TypedCache<T> cache, TypedCache.Loader<T> loader) {
    return cache.get(ACCOUNT.tenantId(), ACCOUNT.type(), ACCOUNT.id(), "summary", loader);
  }
}
