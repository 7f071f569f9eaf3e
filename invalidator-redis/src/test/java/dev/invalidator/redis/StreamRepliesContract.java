package dev.invalidator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The stream replies whose shape differs between Redis 6.2 and 7.x, checked through {@link
 * RedisStreamSource} against one server: {@link StreamRepliesTest} runs it on the tests' server
 * (the machine's Redis or the embedded one), {@link StreamRepliesOnRedis62Test} always on the
 * embedded Redis 6.2.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class StreamRepliesContract {
  private static final Backoff SHORT = new Backoff(Duration.ofMillis(1), Duration.ofMillis(1));

  private final List<RedisStreamSource> sources = new ArrayList<>();
  private StatefulRedisConnection<String, String> redis;
  private KeyScheme keys;

  abstract RedisClient client();

  @BeforeEach
  void setUp() {
    redis = client().connect();
    keys = TestRedis.randomKeys();
  }

  @AfterEach
  void tearDown() {
    sources.forEach(RedisStreamSource::close);
    TestRedis.deleteAll(redis, keys);
    redis.close();
  }

  @Test
  void serverVersionIsReadAndSupported() {
    RedisServerInfo server = source("reader").server();

    assertThat(server.version()).isPresent();
    assertThat(server.atLeast(6, 2)).isTrue();
    assertThat(server.requireSupported()).isSameAs(server);
  }

  @Test
  void claimAcknowledgesDeletedEntryAndReturnsTheOthersWithTheirDeliveryCounts() throws Exception {
    RedisStreamSource a = source("consumer-a");
    RedisStreamSource b = source("consumer-b");
    a.ensureGroup();
    String first = add("first");
    String deleted = add("deleted");
    String last = add("last");
    assertThat(a.poll(10, Duration.ofSeconds(1))).hasSize(3);
    redis.sync().xdel(keys.stream(), deleted);

    List<Delivery> claimed = b.claimAbandoned(Duration.ZERO, 10);

    assertThat(claimed).extracting(Delivery::id).containsExactly(first, last);
    assertThat(claimed).extracting(Delivery::deliveryCount).containsExactly(2L, 2L);
    assertThat(claimed.get(0).fields()).isEqualTo(Map.of("body", "first"));
    assertThat(b.stats().pending()).isEqualTo(2);
    assertThat(redis.sync().xpending(keys.stream(), RedisStreamSource.DEFAULT_GROUP).getCount())
        .isEqualTo(2);
    b.ack(List.of(first, last));
    assertThat(b.stats().pending()).isZero();
  }

  @Test
  void retryAcknowledgesDeletedEntryAndReturnsTheOthers() throws Exception {
    RedisStreamSource a = source("consumer-a");
    a.ensureGroup();
    String kept = add("kept");
    String deleted = add("deleted");
    assertThat(a.poll(10, Duration.ofSeconds(1))).hasSize(2);
    redis.sync().xdel(keys.stream(), deleted);
    List<Delivery> retried = new ArrayList<>();

    // An entry is due once it has been idle for its (at most one millisecond) backoff.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              retried.addAll(a.claimDueRetries(SHORT, 10));
              return a.stats().pending() == 1 && !retried.isEmpty();
            });

    assertThat(retried).extracting(Delivery::id).containsExactly(kept);
    assertThat(retried.get(0).deliveryCount()).isEqualTo(2);
    assertThat(retried.get(0).fields()).isEqualTo(Map.of("body", "kept"));
  }

  @Test
  void claimsFindNothingWhileTheGroupIsMissing() {
    RedisStreamSource a = source("reader");
    add("no group yet");

    assertThat(a.claimAbandoned(Duration.ZERO, 10)).isEmpty();
    assertThat(a.claimDueRetries(SHORT, 10)).isEmpty();
  }

  @Test
  void lagCountsUndeliveredEntriesAlsoAfterADeletionAmongThem() throws Exception {
    RedisStreamSource a = source("reader");
    a.ensureGroup();
    add("delivered");
    add("undelivered-1");
    String doomed = add("undelivered-2");
    add("undelivered-3");
    assertThat(a.poll(1, Duration.ofSeconds(1))).hasSize(1);
    assertThat(a.stats().lag()).isEqualTo(3);

    // Redis 7 reports no lag number once an undelivered entry is deleted; 6.2 never reports one.
    redis.sync().xdel(keys.stream(), doomed);

    assertThat(a.stats().lag()).isEqualTo(2);
  }

  private String add(String body) {
    return redis.sync().xadd(keys.stream(), Map.of("body", body));
  }

  private RedisStreamSource source(String consumer) {
    RedisStreamSource s = RedisStreamSource.builder(client(), keys).consumer(consumer).build();
    sources.add(s);
    return s;
  }
}
