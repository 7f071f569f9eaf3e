package dev.invalidator.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.EventPublisher.Outgoing;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Target;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.redis.IdempotentTarget;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.redis.RedisStreamPublisher;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP targets are not version-gated: wrapped in the Redis {@link IdempotentTarget} (a real
 * Redis), a redelivered event is answered {@code DUPLICATE} and not sent again. The worker reports
 * each {@code DUPLICATE} to its listener, which the daemon counts as {@code
 * invalidator_dedupe_hits_total{target}}.
 */
class IdempotentHttpTargetsTest {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static WireMockServer server;
  private static RedisClient client;
  private static StatefulRedisConnection<String, String> redis;
  private KeyScheme keys;

  @BeforeAll
  static void start() {
    server = new WireMockServer(wireMockConfig().dynamicPort());
    server.start();
    client = RedisClient.create(TestServers.redisUrl());
    redis = client.connect();
  }

  @AfterAll
  static void stop() {
    redis.close();
    client.shutdown();
    server.stop();
  }

  @BeforeEach
  void prefix() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    keys = new KeyScheme("h" + HexFormat.of().formatHex(b));
  }

  @AfterEach
  void cleanUp() {
    server.resetAll();
    List<String> mine = redis.sync().keys(keys.prefix() + ":*");
    if (!mine.isEmpty()) {
      redis.sync().unlink(mine.toArray(String[]::new));
    }
  }

  private Target idempotent(Target t) {
    return new IdempotentTarget(t, redis, keys, Duration.ofMinutes(5));
  }

  private static int sent(String path) {
    return server
        .findAll(postRequestedFor(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo(path)))
        .size();
  }

  @Test
  void redeliveredEventIsPurgedAndPostedOnlyOnce() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    Target cdn =
        idempotent(
            CdnPurgeTarget.builder()
                .provider(CdnProvider.FASTLY)
                .endpoint("http://localhost:" + server.port())
                .service("svc")
                .token("t0ken")
                .build());
    Target hook =
        idempotent(
            WebhookTarget.builder()
                .name("search")
                .url("http://localhost:" + server.port() + "/hook")
                .secret(WebhookTargetTest.SECRET)
                .build());
    InvalidationEvent e = Events.withCdnTags("acme", "product-1");
    InvalidationEvent other = Events.withCdnTags("acme", "product-2");

    assertThat(cdn.apply(List.of(e))).containsExactly(ApplyResult.APPLIED);
    assertThat(hook.apply(List.of(e))).containsExactly(ApplyResult.APPLIED);
    // The redelivery, alone and within a later batch.
    assertThat(cdn.apply(List.of(e))).containsExactly(ApplyResult.DUPLICATE);
    assertThat(hook.apply(List.of(e))).containsExactly(ApplyResult.DUPLICATE);
    assertThat(cdn.apply(List.of(other, e)))
        .containsExactly(ApplyResult.APPLIED, ApplyResult.DUPLICATE);
    assertThat(hook.apply(List.of(other, e)))
        .containsExactly(ApplyResult.APPLIED, ApplyResult.DUPLICATE);

    assertThat(sent("/service/svc/purge")).isEqualTo(2);
    assertThat(sent("/hook")).isEqualTo(2);
    assertThat(
            server.findAll(postRequestedFor(anyUrl())).stream()
                .filter(r -> r.getUrl().equals("/service/svc/purge"))
                .map(r -> r.getHeader("Surrogate-Key")))
        .containsExactly("acme:product-1", "acme:product-2");
    // One record per event and target: the two targets do not share them.
    assertThat(redis.sync().exists(keys.processed("cdn-fastly", e.eventId()))).isEqualTo(1);
    assertThat(redis.sync().exists(keys.processed("search", e.eventId()))).isEqualTo(1);
  }

  @Test
  void aFailedSendLeavesNoRecordSoTheRedeliveryIsSent() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(503)));
    Target hook =
        idempotent(
            WebhookTarget.builder()
                .name("search")
                .url("http://localhost:" + server.port() + "/hook")
                .secret(WebhookTargetTest.SECRET)
                .build());
    InvalidationEvent e = Events.withCdnTags("acme");

    assertThat(hook.apply(List.of(e)).get(0).status()).isEqualTo(ApplyResult.Status.FAILED);
    assertThat(redis.sync().exists(keys.processed("search", e.eventId()))).isZero();

    server.resetAll();
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    assertThat(hook.apply(List.of(e))).containsExactly(ApplyResult.APPLIED);
    assertThat(hook.apply(List.of(e))).containsExactly(ApplyResult.DUPLICATE);
    assertThat(sent("/hook")).isEqualTo(1);
  }

  @Test
  void throughTheWorkerARepublishedEventIsSentOnceAndEachCopyCountsAsADedupeHit()
      throws InterruptedException {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    Target cdn =
        idempotent(
            CdnPurgeTarget.builder()
                .provider(CdnProvider.FASTLY)
                .endpoint("http://localhost:" + server.port())
                .service("svc")
                .token("t0ken")
                .build());
    Target hook =
        idempotent(
            WebhookTarget.builder()
                .name("search")
                .url("http://localhost:" + server.port() + "/hook")
                .secret(WebhookTargetTest.SECRET)
                .build());
    // Counted as the daemon's metrics do (InvalidatorMetrics): a DUPLICATE result reported to
    // the worker's listener is one hit of invalidator_dedupe_hits_total{target}.
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    WorkerListener listener =
        new WorkerListener() {
          @Override
          public void applied(
              String target,
              InvalidationEvent event,
              ApplyResult result,
              Instant committedAt,
              Instant appliedAt) {
            if (result.status() == ApplyResult.Status.DUPLICATE) {
              meters.counter("invalidator.dedupe.hits", "target", target).increment();
            }
          }
        };
    RedisStreamPublisher publisher = new RedisStreamPublisher(redis, keys, Clock.systemUTC());
    RedisStreamSource source = RedisStreamSource.builder(client, keys).consumer("c1").build();
    try {
      source.ensureGroup();
      InvalidationWorker worker =
          new InvalidationWorker(
              source,
              List.of(cdn, hook),
              new RedisDeadLetters(redis, keys),
              InvalidationWorker.Options.defaults(),
              listener,
              Clock.systemUTC());
      InvalidationEvent e = Events.withCdnTags("acme", "product-1");
      InvalidationEvent other = Events.withCdnTags("acme", "product-2");

      // The relay published e, crashed before marking it relayed and published it again; later
      // the entry is redelivered once more (a redrive).
      publisher.publish(List.of(new Outgoing(1, e), new Outgoing(2, other)));
      publisher.publish(List.of(new Outgoing(1, e)));
      runUntil(worker, 3);
      publisher.publish(List.of(new Outgoing(1, e)));
      runUntil(worker, 1);

      assertThat(
              server.findAll(postRequestedFor(anyUrl())).stream()
                  .filter(r -> r.getUrl().equals("/service/svc/purge"))
                  .flatMap(r -> List.of(r.getHeader("Surrogate-Key").split(" ")).stream()))
          .containsExactlyInAnyOrder("acme:product-1", "acme:product-2");
      assertThat(
              server.findAll(postRequestedFor(anyUrl())).stream()
                  .filter(r -> r.getUrl().equals("/hook"))
                  .map(r -> r.getHeader("webhook-id")))
          .containsExactlyInAnyOrder("search:" + e.eventId(), "search:" + other.eventId());
      assertThat(meters.counter("invalidator.dedupe.hits", "target", "cdn-fastly").count())
          .isEqualTo(2.0);
      assertThat(meters.counter("invalidator.dedupe.hits", "target", "search").count())
          .isEqualTo(2.0);
      assertThat(redis.sync().xpending(keys.stream(), RedisStreamSource.DEFAULT_GROUP).getCount())
          .isZero();
    } finally {
      source.close();
    }
  }

  /** Runs the worker until it has processed {@code n} deliveries (a bounded number of rounds). */
  private static void runUntil(InvalidationWorker worker, int n) throws InterruptedException {
    int done = 0;
    for (int round = 0; round < 40 && done < n; round++) {
      done += worker.runOnce();
    }
    assertThat(done).isEqualTo(n);
  }
}
