package dev.invalidator.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.TargetException;
import dev.invalidator.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class WebhookTargetTest {
  /** 32 random bytes, as a Standard Webhooks secret. */
  static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwUkH6i9sPbmk=";

  private static WireMockServer server;

  @BeforeAll
  static void start() {
    server = new WireMockServer(wireMockConfig().dynamicPort());
    server.start();
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @AfterEach
  void reset() {
    server.resetAll();
  }

  private static String url() {
    return "http://localhost:" + server.port() + "/hooks/invalidation";
  }

  private static List<LoggedRequest> requests() {
    return server.findAll(postRequestedFor(anyUrl()));
  }

  private static WebhookTarget.Builder hook() {
    return WebhookTarget.builder()
        .name("search")
        .url(url())
        .secret(SECRET)
        .rateLimitWait(Duration.ZERO);
  }

  @Test
  void postCarriesStandardWebhooksHeadersAndASignatureTheReceiverCanVerify() throws Exception {
    server.stubFor(post(urlEqualTo("/hooks/invalidation")).willReturn(aResponse().withStatus(204)));
    MutableClock clock = new MutableClock(Instant.parse("2026-12-03T17:00:00Z"));
    WebhookTarget target = hook().clock(clock).build();
    InvalidationEvent e = Events.withCdnTags("acme", "product-1");

    assertThat(target.apply(List.of(e))).containsExactly(ApplyResult.APPLIED);

    LoggedRequest r = requests().get(0);
    assertThat(r.getUrl()).isEqualTo("/hooks/invalidation");
    assertThat(r.getHeader("Content-Type")).isEqualTo("application/json");
    assertThat(r.getHeader("webhook-id")).isEqualTo("search:" + e.eventId());
    assertThat(r.getHeader("webhook-timestamp")).isEqualTo("1796317200");
    byte[] body = r.getBody();
    assertThat(EventCodec.decode(new String(body, StandardCharsets.UTF_8))).isEqualTo(e);

    String id = r.getHeader("webhook-id");
    String ts = r.getHeader("webhook-timestamp");
    String sig = r.getHeader("webhook-signature");
    assertThat(sig).startsWith("v1,");
    assertThat(receiverAccepts(sig, id, ts, body)).isTrue();
    // Negative control: the same check refuses a changed body, id or timestamp.
    byte[] tampered =
        new String(body, StandardCharsets.UTF_8)
            .replace("acme", "acmf")
            .getBytes(StandardCharsets.UTF_8);
    assertThat(receiverAccepts(sig, id, ts, tampered)).isFalse();
    assertThat(receiverAccepts(sig, id + "x", ts, body)).isFalse();
    assertThat(receiverAccepts(sig, id, "1796317201", body)).isFalse();
  }

  /** What a receiver does, written out here independently of the target's code. */
  private static boolean receiverAccepts(String header, String id, String timestamp, byte[] body)
      throws Exception {
    byte[] key = Base64.getDecoder().decode(SECRET.substring("whsec_".length()));
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    byte[] expected =
        mac.doFinal(
            (id + "." + timestamp + "." + new String(body, StandardCharsets.UTF_8))
                .getBytes(StandardCharsets.UTF_8));
    for (String candidate : header.split(" ")) {
      if (candidate.startsWith("v1,")
          && MessageDigest.isEqual(Base64.getDecoder().decode(candidate.substring(3)), expected)) {
        return true;
      }
    }
    return false;
  }

  @Test
  void webhookIdIsStableAcrossRedeliveriesAndTheTimestampIsNot() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    MutableClock clock = new MutableClock(Instant.parse("2026-12-03T17:00:00Z"));
    WebhookTarget target = hook().clock(clock).build();
    InvalidationEvent e = Events.withCdnTags("acme");

    target.apply(List.of(e));
    clock.advance(Duration.ofMinutes(1));
    target.apply(List.of(e));

    List<LoggedRequest> sent = requests();
    assertThat(sent).hasSize(2);
    assertThat(sent.get(0).getHeader("webhook-id")).isEqualTo(sent.get(1).getHeader("webhook-id"));
    assertThat(Long.parseLong(sent.get(1).getHeader("webhook-timestamp")))
        .isEqualTo(Long.parseLong(sent.get(0).getHeader("webhook-timestamp")) + 60);
  }

  @Test
  void eachEventOfABatchIsItsOwnPostAndItsOwnResult() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    InvalidationEvent ok = Events.withCdnTags("acme");
    InvalidationEvent rejected = Events.withCdnTags("acme");
    InvalidationEvent flaky = Events.withCdnTags("acme");
    server.stubFor(
        post(anyUrl())
            .withHeader(
                "webhook-id",
                com.github.tomakehurst.wiremock.client.WireMock.equalTo(
                    "search:" + rejected.eventId()))
            .willReturn(
                aResponse().withStatus(422).withBody("{\"error\":\"unknown aggregate type\"}")));
    server.stubFor(
        post(anyUrl())
            .withHeader(
                "webhook-id",
                com.github.tomakehurst.wiremock.client.WireMock.equalTo(
                    "search:" + flaky.eventId()))
            .willReturn(aResponse().withStatus(502)));
    WebhookTarget target = hook().build();

    List<ApplyResult> results = target.apply(List.of(ok, rejected, flaky));

    assertThat(requests()).hasSize(3);
    assertThat(results.get(0)).isEqualTo(ApplyResult.APPLIED);
    TargetException permanent = (TargetException) results.get(1).error();
    assertThat(permanent.isRetryable()).isFalse();
    assertThat(permanent.getMessage()).contains("HTTP 422").contains("unknown aggregate type");
    assertThat(((TargetException) results.get(2).error()).isRetryable()).isTrue();
  }

  @Test
  void http429WithRetryAfterIsRetryable() {
    server.stubFor(
        post(anyUrl()).willReturn(aResponse().withStatus(429).withHeader("Retry-After", "12")));
    WebhookTarget target = hook().build();
    ApplyResult r = target.apply(List.of(Events.withCdnTags("acme"))).get(0);
    assertThat(((TargetException) r.error()).isRetryable()).isTrue();
    assertThat(r.error().getMessage()).contains("retry after 12 s");
  }

  @Test
  void aSlowReceiverTimesOutAsARetryableBatchFailure() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200).withFixedDelay(5_000)));
    WebhookTarget target = hook().requestTimeout(Duration.ofMillis(300)).build();
    long start = System.nanoTime();
    assertThatThrownBy(
            () -> target.apply(List.of(Events.withCdnTags("acme"), Events.withCdnTags("acme"))))
        .isInstanceOfSatisfying(
            InvalidatorException.class, ex -> assertThat(ex.isRetryable()).isTrue())
        .hasMessageContaining("unreachable");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(4_000));
  }

  @Test
  void aBatchWaitsForTokensAtMostRateLimitWaitInAll() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    // A clock that does not move: no token is earned after the burst of two, whatever the wait.
    MutableClock clock = new MutableClock(Instant.parse("2026-12-03T17:00:00Z"));
    WebhookTarget target =
        hook().rateLimit(2).rateLimitWait(Duration.ofMillis(600)).clock(clock).build();
    List<InvalidationEvent> batch = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      batch.add(Events.withCdnTags("acme"));
    }

    long start = System.nanoTime();
    List<ApplyResult> results = target.apply(batch);
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(results.subList(0, 2)).containsOnly(ApplyResult.APPLIED);
    for (ApplyResult r : results.subList(2, 12)) {
      assertThat(((TargetException) r.error()).isRetryable()).isTrue();
      assertThat(r.error().getMessage()).contains("no request token within 600 ms");
    }
    assertThat(requests()).hasSize(2);
    // One waiting budget for the batch (a wait of 500 ms fits once): about half a second, where
    // a budget per request would sleep 500 ms for each of the ten refused events (5 s).
    assertThat(took).isLessThan(Duration.ofMillis(2_500));
  }

  @Test
  void callbackReceivesEveryEventInsteadOfAPost() {
    List<InvalidationEvent> seen = new ArrayList<>();
    WebhookTarget target = WebhookTarget.builder().name("projection").callback(seen::add).build();
    InvalidationEvent a = Events.withCdnTags("acme");
    InvalidationEvent b = Events.withCdnTags("globex");

    assertThat(target.apply(List.of(a, b)))
        .containsExactly(ApplyResult.APPLIED, ApplyResult.APPLIED);
    assertThat(seen).containsExactly(a, b);
    assertThat(requests()).isEmpty();
  }

  @Test
  void callbackFailuresKeepTheirRetryability() {
    InvalidationEvent bad = Events.withCdnTags("acme");
    InvalidationEvent flaky = Events.withCdnTags("acme");
    WebhookTarget target =
        WebhookTarget.builder()
            .name("projection")
            .callback(
                e -> {
                  if (e == bad) {
                    throw new InvalidEventException("aggregate_type", "not projected");
                  }
                  if (e == flaky) {
                    throw new IllegalStateException("database busy");
                  }
                })
            .build();

    List<ApplyResult> r = target.apply(List.of(bad, flaky));
    assertThat(((TargetException) r.get(0).error()).isRetryable()).isFalse();
    assertThat(r.get(0).error().getMessage()).contains("not projected");
    assertThat(((TargetException) r.get(1).error()).isRetryable()).isTrue();
    assertThat(r.get(1).error().getMessage()).contains("database busy");
  }

  @Test
  void builderRefusesConflictingOrMalformedSettingsNamingThem() {
    assertThatThrownBy(() -> WebhookTarget.builder().name("x").build())
        .hasMessageContaining("url and callback");
    assertThatThrownBy(() -> WebhookTarget.builder().name("x").url(url()).callback(e -> {}).build())
        .hasMessageContaining("url and callback");
    assertThatThrownBy(() -> WebhookTarget.builder().name("x").url(url()).build())
        .hasMessageContaining("secret");
    assertThatThrownBy(() -> WebhookTarget.builder().name("x").url(url()).secret("hunter2").build())
        .hasMessageContaining("secret must be whsec_");
    assertThatThrownBy(
            () -> WebhookTarget.builder().name("x").url(url()).secret("whsec_c2hvcnQ=").build())
        .hasMessageContaining("24 to 64 bytes");
    assertThatThrownBy(
            () -> WebhookTarget.builder().name("x").url("ftp://h/").secret(SECRET).build())
        .hasMessageContaining("url must be an http(s) URL");
    assertThatThrownBy(() -> WebhookTarget.builder().url(url()).secret(SECRET).build())
        .hasMessageContaining("name is required");
    assertThatThrownBy(() -> hook().requestTimeout(Duration.ZERO).build())
        .hasMessageContaining("requestTimeout");
  }
}
