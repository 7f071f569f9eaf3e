package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static dev.invalidator.redis.TestRedis.fill;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Payload;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.SlotHash;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** G5: an event can touch only keys of its own tenant. */
class TenantIsolationTest {
  private static final List<String> KEY_SYNTAX = List.of(":", "{", "}", "|", "*", " ", "?", "[");

  private static StatefulRedisConnection<String, String> redis;

  private KeyScheme keys;
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
    keys = TestRedis.randomKeys();
    cache = CacheClient.builder().redisClient(TestRedis.CLIENT).keyScheme(keys).build();
  }

  @AfterEach
  void tearDown() {
    cache.close();
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void keySchemeBuildsDesignFormatKeys() {
    KeyScheme inv = KeyScheme.defaults();
    AggregateRef ref = new AggregateRef("acme", "product", "42");

    assertThat(inv.entry(ref, "summary")).isEqualTo("inv:{acme|product|42}:v:summary");
    assertThat(inv.fence(ref)).isEqualTo("inv:{acme|product|42}:fence");
    assertThat(inv.views(ref)).isEqualTo("inv:{acme|product|42}:views");
    assertThat(inv.viewPrefix(ref)).isEqualTo("inv:{acme|product|42}:v:");
    assertThat(inv.stream()).isEqualTo("inv:stream");
    assertThat(inv.deadLetters()).isEqualTo("inv:dlq");
    // One cluster slot for everything invalidate.lua and fill.lua touch.
    int slot = SlotHash.getSlot(inv.fence(ref));
    assertThat(SlotHash.getSlot(inv.entry(ref, "summary"))).isEqualTo(slot);
    assertThat(SlotHash.getSlot(inv.entry(ref, "some-other-view"))).isEqualTo(slot);
    assertThat(SlotHash.getSlot(inv.views(ref))).isEqualTo(slot);
  }

  @Test
  void identifiersWithKeySyntaxAreRefusedNamingTheField() {
    for (String bad : KEY_SYNTAX) {
      String value = "acme" + bad + "globex";
      refused("tenant_id", () -> new AggregateRef(value, "product", "42"));
      refused("aggregate_type", () -> new AggregateRef("acme", value, "42"));
      refused("aggregate_id", () -> new AggregateRef("acme", "product", value));
      refused("view", () -> KeyScheme.view(value));
    }
    refused("tenant_id", () -> new AggregateRef("", "product", "42"));
    refused("aggregate_id", () -> new AggregateRef("acme", "product", ""));
    refused("view", () -> KeyScheme.view(""));
  }

  @Test
  void eventCannotReachAnotherTenantsKeys() {
    // Crafted to look like parts of tenant globex's keys: refused before any key exists.
    refused("payload.views[0]", () -> Payload.ofViews("x}:v:summary"));
    refused("payload.views[0]", () -> Payload.ofViews("..:{globex|product|42}:v:summary"));
    refused("payload.tags[0]", () -> Payload.ofTags("{globex}:tag:all"));
    refused(
        "tenant_id",
        () ->
            InvalidationEvent.builder()
                .tenant("acme|globex")
                .aggregate("product", "42")
                .version(1)
                .build());
    refused(
        "aggregate_id",
        () ->
            EventCodec.decode(
                "{\"event_id\":\"7d3c1a3e-2a5b-4c8e-9a77-0d1f6b2c9e11\",\"tenant_id\":\"acme\","
                    + "\"aggregate_type\":\"product\",\"aggregate_id\":\"42}:v:x\","
                    + "\"aggregate_version\":1,\"event_type\":\"changed\"}"));

    // A valid event of acme never touches globex's entries, even with identical type/id/view.
    AggregateRef acme = new AggregateRef("acme", "product", "42");
    AggregateRef globex = new AggregateRef("globex", "product", "42");
    fill(cache, acme, "summary", 1);
    fill(cache, globex, "summary", 1);
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(redis, keys, Duration.ofMinutes(15));

    assertThat(target.apply(List.of(event(acme, 9, "summary"))))
        .containsExactly(ApplyResult.APPLIED);

    assertThat(redis.sync().exists(keys.entry(acme, "summary"))).isZero();
    assertThat(redis.sync().hget(keys.entry(globex, "summary"), "ver")).isEqualTo("1");
    assertThat(redis.sync().exists(keys.fence(globex))).isZero();
    assertThat(redis.sync().smembers(keys.views(globex))).containsExactly("summary");
    assertThat(cache.get("globex", "product", "42", "summary", () -> TestRedis.value(5, "reload")))
        .extracting(CacheClient.Versioned::version)
        .isEqualTo(1L);
  }

  private static void refused(String field, Runnable action) {
    assertThatThrownBy(action::run)
        .isInstanceOfSatisfying(
            InvalidEventException.class,
            (Consumer<InvalidEventException>) ex -> assertThat(ex.field()).isEqualTo(field))
        .hasMessageStartingWith(field + ": ");
  }
}
