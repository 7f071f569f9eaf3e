package dev.invalidator.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Target;
import dev.invalidator.embedded.TestServers;
import dev.invalidator.redis.IdempotentTarget;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.security.SecureRandom;
import java.time.Duration;
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
}
