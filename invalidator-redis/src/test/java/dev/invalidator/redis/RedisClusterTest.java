package dev.invalidator.redis;

import static dev.invalidator.redis.TestRedis.event;
import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.EventPublisher.Outgoing;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Payload;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.embedded.EmbeddedRedisCluster;
import dev.invalidator.testing.TestRedisCluster;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.cluster.pubsub.StatefulRedisClusterPubSubConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every part of the Redis side on a 3-master Redis Cluster ({@link TestRedisCluster}): the keys of
 * one test are spread over all masters, so a script or multi-key command that mixes slots fails
 * here with {@code CROSSSLOT}.
 */
class RedisClusterTest {
  private static final InvalidationWorker.Options OPTIONS =
      InvalidationWorker.Options.builder().block(Duration.ofMillis(50)).build();
  private static final int AGGREGATES = 60;

  private static EmbeddedRedisCluster cluster;
  private static RedisClusterClient client;
  private static StatefulRedisClusterConnection<String, String> stateful;
  private static RedisConnection<String, String> redis;

  private KeyScheme keys;

  @BeforeAll
  static void connect() {
    cluster = TestRedisCluster.shared();
    client = RedisClusterClients.create(cluster.url());
    stateful = client.connect();
    redis = RedisConnection.of(stateful);
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      stateful.close();
      client.shutdown();
    }
  }

  @BeforeEach
  void setUp() {
    keys = TestRedis.randomKeys();
  }

  private static List<AggregateRef> aggregatesOnEveryMaster() {
    List<AggregateRef> refs = new ArrayList<>();
    for (int i = 0; i < AGGREGATES; i++) {
      refs.add(new AggregateRef("t" + (i % 5), "product", "p" + i));
    }
    return refs;
  }

  private int masterOf(String key) {
    RedisClusterNode node = stateful.getPartitions().getPartitionBySlot(SlotHash.getSlot(key));
    return node.getUri().getPort();
  }

  @Test
  void targetAppliesABatchSpreadOverEveryMasterAndPublishesGapFreeNearCacheSequences()
      throws Exception {
    int channels = 4;
    Map<String, List<Long>> seen = new ConcurrentHashMap<>();
    StatefulRedisClusterPubSubConnection<String, String> sub = client.connectPubSub();
    sub.addListener(
        new RedisPubSubAdapter<>() {
          @Override
          public void message(String channel, String message) {
            seen.computeIfAbsent(channel, c -> new CopyOnWriteArrayList<>())
                .add(Long.parseLong(message.substring(0, message.indexOf('|'))));
          }
        });
    for (int c = 0; c < channels; c++) {
      sub.sync().subscribe(keys.nearChannel(c));
    }
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(
            redis,
            keys,
            Duration.ofMinutes(15),
            new VersionGatedRedisTarget.Options(
                VersionGatedRedisTarget.Options.DEFAULT_TAG_BATCH_SIZE, channels));
    List<AggregateRef> refs = aggregatesOnEveryMaster();
    Set<Integer> masters = new HashSet<>();
    List<InvalidationEvent> batch = new ArrayList<>();
    for (AggregateRef ref : refs) {
      masters.add(masterOf(keys.fence(ref)));
      stateful.sync().hset(keys.entry(ref, "full"), Map.of("ver", "1", "val", "old"));
      stateful.sync().sadd(keys.views(ref), "full");
      batch.add(event(ref, 2));
    }
    assertThat(masters).hasSize(EmbeddedRedisCluster.MASTERS);

    List<ApplyResult> results = target.apply(batch);
    List<ApplyResult> again = target.apply(batch);

    assertThat(results).allMatch(r -> r == ApplyResult.APPLIED);
    assertThat(again).allMatch(r -> r == ApplyResult.STALE_SKIPPED);
    for (AggregateRef ref : refs) {
      assertThat(stateful.sync().get(keys.fence(ref))).isEqualTo("2");
      assertThat(stateful.sync().exists(keys.entry(ref, "full"))).isZero();
    }
    // Every event's message arrives twice (the duplicate too: see publishNear), numbered 1..n
    // without holes per channel.
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> seen.values().stream().mapToInt(List::size).sum() == 2 * refs.size());
    for (Map.Entry<String, List<Long>> e : seen.entrySet()) {
      List<Long> numbers = e.getValue();
      for (int i = 0; i < numbers.size(); i++) {
        assertThat(numbers.get(i)).as(e.getKey()).isEqualTo(i + 1L);
      }
    }
    sub.close();
  }

  @Test
  void tagWalkUnlinksMembersOnEveryMaster() {
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(redis, keys, Duration.ofMinutes(15));
    List<AggregateRef> refs = new ArrayList<>();
    for (int i = 0; i < AGGREGATES; i++) {
      refs.add(new AggregateRef("acme", "product", "p" + i));
    }
    Set<Integer> masters = new HashSet<>();
    for (AggregateRef ref : refs) {
      String entry = keys.entry(ref, "card");
      masters.add(masterOf(entry));
      stateful.sync().hset(entry, Map.of("ver", "1", "val", "x"));
      stateful.sync().sadd(keys.tag("acme", "sale"), entry);
    }
    assertThat(masters).hasSize(EmbeddedRedisCluster.MASTERS);
    InvalidationEvent tagEvent =
        InvalidationEvent.builder()
            .aggregate(new AggregateRef("acme", "campaign", "c1"))
            .version(1)
            .payload(Payload.ofTags("sale"))
            .createdAt(Instant.now())
            .build();

    assertThat(target.apply(List.of(tagEvent))).containsExactly(ApplyResult.APPLIED);

    for (AggregateRef ref : refs) {
      assertThat(stateful.sync().exists(keys.entry(ref, "card"))).isZero();
    }
    assertThat(stateful.sync().get(keys.tagGeneration("acme", "sale"))).isNotNull();
  }

  @Test
  void streamTransportDeadLettersAndLossMarkerWorkOnTheCluster() throws Exception {
    RedisStreamPublisher publisher = new RedisStreamPublisher(redis, keys, Clock.systemUTC());
    RedisDeadLetters deadLetters = new RedisDeadLetters(redis, keys);
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(redis, keys, Duration.ofMinutes(15));
    RedisLossMarker marker = new RedisLossMarker(redis, keys);
    String epoch = marker.writeIfAbsent();
    List<AggregateRef> refs = aggregatesOnEveryMaster();
    List<Outgoing> batch = new ArrayList<>();
    long id = 0;
    for (AggregateRef ref : refs) {
      batch.add(new Outgoing(++id, event(ref, 3)));
      batch.add(new Outgoing(++id, event(ref, 5)));
    }
    publisher.publish(batch);
    stateful
        .sync()
        .xadd(
            keys.stream(),
            Map.of(
                StreamEntry.EVENT,
                "{not json",
                StreamEntry.PUBLISHED_AT_MS,
                Long.toString(System.currentTimeMillis())));
    try (RedisStreamSource source =
        RedisStreamSource.builder(client, keys).consumer("cluster-reader").build()) {
      source.ensureGroup();
      InvalidationWorker worker =
          new InvalidationWorker(
              source,
              List.of(target),
              deadLetters,
              OPTIONS,
              WorkerListener.NONE,
              Clock.systemUTC());
      int handled = 0;
      while (handled < batch.size() + 1) {
        int n = worker.runOnce();
        assertThat(n).as("entries still to read").isPositive();
        handled += n;
      }
      assertThat(source.stats().pending()).isZero();
    }
    for (AggregateRef ref : refs) {
      assertThat(stateful.sync().get(keys.fence(ref))).isEqualTo("5");
    }
    assertThat(deadLetters.depth()).isEqualTo(1);
    List<RedisDeadLetters.Stored> stored =
        deadLetters.list(RedisDeadLetters.Filter.ALL, Instant.now(), 10);
    assertThat(stored).hasSize(1);
    deadLetters.add(
        new DeadLetter(
            "1-0",
            Map.of(StreamEntry.EVENT, "{}"),
            "redis",
            "retries_exhausted",
            3,
            Instant.now(),
            Instant.now(),
            "boom"));
    assertThat(deadLetters.drop(deadLetters.list(RedisDeadLetters.Filter.ALL, Instant.now(), 10)))
        .isEqualTo(2);
    assertThat(marker.read()).isEqualTo(epoch);
    marker.recreateStream("g2");
    assertThat(marker.writeIfAbsent()).isEqualTo(epoch);
  }

  @Test
  void cacheClientFillsTagsAndNearCacheFollowInvalidationsOnTheCluster() throws Exception {
    int channels = 4;
    VersionGatedRedisTarget target =
        new VersionGatedRedisTarget(
            redis,
            keys,
            Duration.ofMinutes(15),
            new VersionGatedRedisTarget.Options(
                VersionGatedRedisTarget.Options.DEFAULT_TAG_BATCH_SIZE, channels));
    try (CacheClient cache =
        CacheClient.builder()
            .redisClusterClient(client)
            .keyScheme(keys)
            .fenceTtl(Duration.ofMinutes(15))
            .nearCache(NearCacheOptions.defaults().withChannels(channels))
            .build()) {
      List<AggregateRef> refs = aggregatesOnEveryMaster();
      for (AggregateRef ref : refs) {
        CacheClient.Versioned v =
            cache.get(
                ref.tenantId(),
                ref.type(),
                ref.id(),
                "full",
                List.of("sale"),
                () -> TestRedis.value(1, "v1"));
        assertThat(v.version()).isEqualTo(1);
        assertThat(stateful.sync().exists(keys.entry(ref, "full"))).isOne();
      }
      // Aggregate invalidations: the near tier and Redis both drop version 1.
      List<InvalidationEvent> batch = new ArrayList<>();
      for (AggregateRef ref : refs) {
        batch.add(event(ref, 2));
      }
      assertThat(target.apply(batch)).allMatch(r -> r == ApplyResult.APPLIED);
      org.awaitility.Awaitility.await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                for (AggregateRef ref : refs) {
                  CacheClient.Versioned v =
                      cache.get(
                          ref.tenantId(),
                          ref.type(),
                          ref.id(),
                          "full",
                          List.of("sale"),
                          () -> TestRedis.value(2, "v2"));
                  assertThat(v.version()).as(ref.toString()).isEqualTo(2);
                }
              });
      // A stale fill (version 1 read before the invalidation) is refused by the fence.
      AggregateRef first = refs.get(0);
      stateful.sync().unlink(keys.entry(first, "full"));
      target.apply(List.of(event(first, 3)));
      CacheClient.Versioned stale =
          cache.get(
              first.tenantId(),
              first.type(),
              first.id(),
              "other",
              () -> TestRedis.value(1, "stale"));
      assertThat(stale.version()).isEqualTo(1);
      assertThat(stateful.sync().exists(keys.entry(first, "other"))).isZero();
      // A tag invalidation of one tenant reaches its entries on every master.
      InvalidationEvent tagEvent =
          InvalidationEvent.builder()
              .aggregate(new AggregateRef("t1", "campaign", "c1"))
              .version(1)
              .payload(Payload.ofTags("sale"))
              .createdAt(Instant.now())
              .build();
      assertThat(target.apply(List.of(tagEvent))).containsExactly(ApplyResult.APPLIED);
      for (AggregateRef ref : refs) {
        // (the first aggregate's entry was unlinked above)
        long expected = ref.tenantId().equals("t1") || ref.equals(first) ? 0 : 1;
        assertThat(stateful.sync().exists(keys.entry(ref, "full")))
            .as(ref.toString())
            .isEqualTo(expected);
      }
    }
  }
}
