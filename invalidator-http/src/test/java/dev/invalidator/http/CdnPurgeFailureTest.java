package dev.invalidator.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.TargetException;
import dev.invalidator.testing.MutableClock;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** How the CDN target classifies what the provider (a real HTTP server) answers. */
class CdnPurgeFailureTest {
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

  private static CdnPurgeTarget.Builder cloudflare() {
    return CdnPurgeTarget.builder()
        .provider(CdnProvider.CLOUDFLARE)
        .endpoint("http://localhost:" + server.port())
        .service("zone")
        .token("cf-token")
        .rateLimitWait(Duration.ZERO);
  }

  private static int sent() {
    return server.findAll(postRequestedFor(anyUrl())).size();
  }

  private static TargetException error(ApplyResult r) {
    assertThat(r.status()).isEqualTo(ApplyResult.Status.FAILED);
    assertThat(r.error()).isInstanceOf(TargetException.class);
    return (TargetException) r.error();
  }

  @Test
  void http429WithRetryAfterFailsRetryableAndHoldsTheTargetUntilThen() {
    server.stubFor(
        post(anyUrl())
            .willReturn(
                aResponse()
                    .withStatus(429)
                    .withHeader("Retry-After", "30")
                    .withBody(
                        "{\"success\":false,\"errors\":[{\"code\":971,\"message\":\"slow down\"}]}")));
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    PurgeTarget target = (PurgeTarget) cloudflare().clock(clock).build();
    InvalidationEvent e = Events.withCdnTags("acme", "x");

    TargetException first = error(target.apply(List.of(e)).get(0));
    assertThat(first.isRetryable()).isTrue();
    assertThat(first.getMessage())
        .contains("HTTP 429")
        .contains("retry after 30 s")
        .contains("slow down");
    assertThat(first.eventId()).isEqualTo(e.eventId().toString());
    assertThat(first.tenantId()).isEqualTo("acme");
    assertThat(target.bucket().pausedUntil()).isEqualTo(clock.instant().plusSeconds(30));
    assertThat(target.bucket().rate()).isLessThan(CdnPurgeTarget.Builder.DEFAULT_RATE_LIMIT);

    // Redelivered before the advertised time: failed again as retryable, and nothing is sent.
    clock.advance(Duration.ofSeconds(29));
    TargetException again = error(target.apply(List.of(e)).get(0));
    assertThat(again.isRetryable()).isTrue();
    assertThat(again.getMessage()).contains("not sent");
    assertThat(sent()).isEqualTo(1);

    // After it, the request goes out again.
    server.resetAll();
    server.stubFor(
        post(anyUrl()).willReturn(aResponse().withStatus(200).withBody("{\"success\":true}")));
    clock.advance(Duration.ofSeconds(2));
    assertThat(target.apply(List.of(e))).containsExactly(ApplyResult.APPLIED);
    assertThat(sent()).isEqualTo(1);
  }

  @Test
  void cloudflareRatelimitResetIsHonouredWithoutRetryAfter() {
    server.stubFor(
        post(anyUrl())
            .willReturn(
                aResponse().withStatus(429).withHeader("Ratelimit", "\"default\";r=0;t=7")));
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    PurgeTarget target = (PurgeTarget) cloudflare().clock(clock).build();

    assertThat(error(target.apply(List.of(Events.withCdnTags("acme", "x"))).get(0)).isRetryable())
        .isTrue();
    assertThat(target.bucket().pausedUntil()).isEqualTo(clock.instant().plusSeconds(7));
  }

  @Test
  void http5xxIsRetryable() {
    server.stubFor(
        post(anyUrl()).willReturn(aResponse().withStatus(503).withBody("upstream down")));
    CdnPurgeTarget target = cloudflare().build();

    TargetException ex = error(target.apply(List.of(Events.withCdnTags("acme", "x"))).get(0));
    assertThat(ex.isRetryable()).isTrue();
    assertThat(ex.getMessage()).contains("HTTP 503").contains("upstream down");
  }

  @Test
  void http4xxIsPermanentAndCarriesTheProvidersBodyTrimmed() {
    String body =
        "{\n  \"success\": false,\n  \"errors\": [\n    {\"code\": 10000, \"message\":"
            + " \"Authentication error\"}\n  ]\n}"
            + " ".repeat(100)
            + "y".repeat(2_000);
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(403).withBody(body)));
    CdnPurgeTarget target = cloudflare().build();

    TargetException ex = error(target.apply(List.of(Events.withCdnTags("acme", "x"))).get(0));
    assertThat(ex.isRetryable()).isFalse();
    assertThat(ex.getMessage())
        .contains("HTTP 403")
        .contains(
            "{ \"success\": false, \"errors\": [ {\"code\": 10000, \"message\": \"Authentication error\"} ] }")
        .doesNotContain("\n")
        .doesNotContain("y".repeat(600));
  }

  @Test
  void aFailedRequestFailsOnlyTheEventsWhoseTagsItCarried() {
    server.stubFor(
        post(anyUrl()).willReturn(aResponse().withStatus(200).withBody("{\"success\":true}")));
    server.stubFor(
        post(anyUrl())
            .withRequestBody(containing("acme:late-0"))
            .willReturn(aResponse().withStatus(500)));
    CdnPurgeTarget target = cloudflare().rateLimit(100).build();
    // 100 tags fill the first request; the second carries the late ones.
    InvalidationEvent early =
        Events.withCdnTags("acme", IntStream.range(0, 100).mapToObj(i -> "early-" + i).toList());
    InvalidationEvent late = Events.withCdnTags("acme", "late-0", "late-1");
    InvalidationEvent both = Events.withCdnTags("acme", "early-3", "late-1");

    List<ApplyResult> results = target.apply(List.of(early, late, both));

    assertThat(sent()).isEqualTo(2);
    assertThat(results.get(0)).isEqualTo(ApplyResult.APPLIED);
    assertThat(error(results.get(1)).isRetryable()).isTrue();
    assertThat(error(results.get(2)).isRetryable()).isTrue();
  }

  @Test
  void aSlowProviderTimesOutAndTheBatchFailsAsRetryableWithinTheTimeout() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200).withFixedDelay(5_000)));
    CdnPurgeTarget target = cloudflare().requestTimeout(Duration.ofMillis(300)).build();

    long start = System.nanoTime();
    assertThatThrownBy(() -> target.apply(List.of(Events.withCdnTags("acme", "x"))))
        .isInstanceOfSatisfying(
            InvalidatorException.class, ex -> assertThat(ex.isRetryable()).isTrue())
        .hasMessageContaining("unreachable")
        .hasMessageContaining("no response within 300 ms");
    // Bounded by the request timeout, not by the provider: one slow target cannot hold a worker.
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(4_000));
  }

  @Test
  void aRefusedConnectionFailsTheBatchAsRetryable() throws IOException {
    int closed;
    try (ServerSocket s = new ServerSocket(0)) {
      closed = s.getLocalPort();
    }
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .endpoint("http://127.0.0.1:" + closed)
            .service("svc")
            .token("t0ken")
            .build();
    assertThatThrownBy(() -> target.apply(List.of(Events.withCdnTags("acme", "x"))))
        .isInstanceOfSatisfying(
            InvalidatorException.class, ex -> assertThat(ex.isRetryable()).isTrue())
        .hasMessageContaining("unreachable");
  }

  @Test
  void ourOwnRateLimitFailsWhatItCannotSendAsRetryableWithoutSendingIt() {
    server.stubFor(
        post(anyUrl()).willReturn(aResponse().withStatus(200).withBody("{\"success\":true}")));
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    CdnPurgeTarget target = cloudflare().rateLimit(1).clock(clock).build();

    assertThat(target.apply(List.of(Events.withCdnTags("acme", "a"))))
        .containsExactly(ApplyResult.APPLIED);
    TargetException ex = error(target.apply(List.of(Events.withCdnTags("acme", "b"))).get(0));
    assertThat(ex.isRetryable()).isTrue();
    assertThat(ex.getMessage()).contains("no request token");
    assertThat(sent()).isEqualTo(1);
    clock.advance(Duration.ofSeconds(1));
    assertThat(target.apply(List.of(Events.withCdnTags("acme", "b"))))
        .containsExactly(ApplyResult.APPLIED);
    assertThat(sent()).isEqualTo(2);
  }
}
