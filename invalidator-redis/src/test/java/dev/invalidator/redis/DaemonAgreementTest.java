package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The daemon publishes its fence TTL and near-cache channel count; a client that disagrees refuses
 * to start (fence TTL) or runs without its near tier (channels), naming both values.
 */
class DaemonAgreementTest {
  private static final Duration DAEMON_FENCE_TTL = Duration.ofMinutes(15);
  private static final int DAEMON_CHANNELS = 16;

  private static StatefulRedisConnection<String, String> redis;

  private final List<CacheClient> caches = new ArrayList<>();
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
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
    logs.start();
    ((Logger) LoggerFactory.getLogger(CacheClient.class)).addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    ((Logger) LoggerFactory.getLogger(CacheClient.class)).detachAppender(logs);
    caches.forEach(CacheClient::close);
    TestRedis.deleteAll(redis, keys);
  }

  @Test
  void publishedSettingsReadBackAsWritten() {
    assertThat(PipelineSettings.read(redis, keys)).isEmpty();

    new PipelineSettings(DAEMON_FENCE_TTL, DAEMON_CHANNELS).publish(redis, keys);

    assertThat(PipelineSettings.read(redis, keys))
        .contains(new PipelineSettings(DAEMON_FENCE_TTL, DAEMON_CHANNELS));
    assertThat(redis.sync().hgetall(keys.settings()))
        .isEqualTo(Map.of("fence_ttl_ms", "900000", "near_cache_channels", "16"));
  }

  @Test
  void clientRefusesToStartWithAnotherFenceTtlNamingBothValues() {
    new PipelineSettings(DAEMON_FENCE_TTL, DAEMON_CHANNELS).publish(redis, keys);

    assertThatThrownBy(
            () ->
                CacheClient.builder()
                    .redisClient(TestRedis.CLIENT)
                    .keyScheme(keys)
                    .entryTtl(Duration.ofMinutes(15))
                    .fenceTtl(Duration.ofMinutes(20))
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cache.fenceTtl (PT20M)")
        .hasMessageContaining("daemon's cache.fenceTtl (PT15M")
        .hasMessageContaining(keys.settings());
  }

  @Test
  void clientWithTheDaemonsSettingsStartsWithItsNearTier() {
    new PipelineSettings(DAEMON_FENCE_TTL, DAEMON_CHANNELS).publish(redis, keys);

    CacheClient c = nearCache(DAEMON_CHANNELS);

    assertThat(c.nearCache()).isNotNull();
    assertThat(c.fenceTtl()).isEqualTo(DAEMON_FENCE_TTL);
    assertThat(warnings()).isEmpty();
  }

  @Test
  void withoutPublishedSettingsNothingIsChecked() {
    CacheClient c = nearCache(8);

    assertThat(c.nearCache()).isNotNull();
    assertThat(warnings()).isEmpty();
  }

  /**
   * The case: clients with 8 channels against a daemon publishing on 16. With the check the
   * near tier is off and every read after the invalidations is fresh.
   */
  @Test
  void clientWithOtherChannelsRunsWithoutItsNearTierAndServesNothingStale() {
    new PipelineSettings(DAEMON_FENCE_TTL, DAEMON_CHANNELS).publish(redis, keys);

    CacheClient c = nearCache(8);

    assertThat(c.nearCache()).isNull();
    assertThat(warnings())
        .singleElement()
        .satisfies(
            m ->
                assertThat(m)
                    .contains("nearCache.channels is 8")
                    .contains("daemon publishes on 16")
                    .contains(keys.settings()));
    assertThat(staleAfterInvalidatingHotEntries(c)).isZero();
  }

  /**
   * Negative control: the same mismatch without published settings (nothing to check against)
   * serves stale entries from the near tier after the invalidations were applied in Redis.
   */
  @Test
  void withoutTheCheckAMismatchedNearTierServesStaleEntries() {
    CacheClient c = nearCache(8);

    assertThat(staleAfterInvalidatingHotEntries(c)).isPositive();
  }

  /**
   * Fills 40 hot entries (version 1), applies an invalidation to version 2 of each through a target
   * publishing on {@link #DAEMON_CHANNELS} channels, waits until this client's subscriber has seen
   * every message it can see, and counts the entries still served at version 1.
   */
  private int staleAfterInvalidatingHotEntries(CacheClient c) {
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(
            redis,
            keys,
            DAEMON_FENCE_TTL,
            new VersionGatedRedisTarget.Options(100, DAEMON_CHANNELS));
    List<AggregateRef> refs = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      refs.add(new AggregateRef("tenant-" + i, "account", "1"));
    }
    for (AggregateRef ref : refs) {
      read(c, ref, 1);
      read(c, ref, 1); // the second read is served by the near tier when there is one
    }
    List<InvalidationEvent> events = new ArrayList<>();
    for (AggregateRef ref : refs) {
      events.add(event(ref, 2));
    }
    target.apply(events);
    // The client's own channels carry a known number of messages: wait until all have arrived.
    long expected = 0;
    for (AggregateRef ref : refs) {
      if (KeyScheme.nearShard(ref.tenantId(), DAEMON_CHANNELS) < 8) {
        expected++;
      }
    }
    long wanted = expected;
    if (c.nearCache() != null) {
      await().atMost(Duration.ofSeconds(10)).until(() -> c.nearStats().messages() >= wanted);
    }
    int stale = 0;
    for (AggregateRef ref : refs) {
      if (read(c, ref, 2) != 2) {
        stale++;
      }
    }
    return stale;
  }

  private static long read(CacheClient c, AggregateRef ref, long dbVersion) {
    return c.get(
            ref.tenantId(),
            ref.type(),
            ref.id(),
            "summary",
            () ->
                new CacheClient.Versioned(
                    dbVersion, ("v" + dbVersion).getBytes(StandardCharsets.UTF_8)))
        .version();
  }

  private List<String> warnings() {
    return logs.list.stream()
        .filter(e -> e.getLevel() == Level.WARN)
        .map(ILoggingEvent::getFormattedMessage)
        .toList();
  }

  private CacheClient nearCache(int channels) {
    CacheClient c =
        CacheClient.builder()
            .redisClient(TestRedis.CLIENT)
            .keyScheme(keys)
            .nearCache(
                NearCacheOptions.defaults()
                    .withChannels(channels)
                    .withHeartbeatTimeout(Duration.ofMinutes(1)))
            .build();
    caches.add(c);
    Optional.ofNullable(c.nearCache())
        .ifPresent(n -> await().atMost(Duration.ofSeconds(5)).until(n::healthy));
    return c;
  }
}
