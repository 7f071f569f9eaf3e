package dev.invalidator.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Each provider's purge request, field by field, against a real HTTP server (WireMock). */
class CdnPurgeRequestShapeTest {
  private static final ObjectMapper JSON = new ObjectMapper();
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

  private static String base() {
    return "http://localhost:" + server.port();
  }

  private static List<LoggedRequest> requests() {
    return server.findAll(postRequestedFor(anyUrl()));
  }

  private static List<String> tags(String prefix, int n) {
    return IntStream.range(0, n).mapToObj(i -> prefix + i).toList();
  }

  @Test
  void fastlyPurgeSendsDeduplicatedSurrogateKeysOfAllEventsInOneRequest() {
    server.stubFor(
        post(urlEqualTo("/service/SU1Z0isx/purge"))
            .willReturn(aResponse().withStatus(200).withBody("{\"status\":\"ok\"}")));
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .endpoint(base())
            .service("SU1Z0isx")
            .token("fastly-secret-token")
            .build();
    InvalidationEvent a = Events.withCdnTags("acme", "product-1", "category-9");
    InvalidationEvent b = Events.withCdnTags("acme", "category-9", "home");
    InvalidationEvent c = Events.withCdnTags("globex", "product-1");

    assertThat(target.apply(List.of(a, b, c)))
        .containsExactly(ApplyResult.APPLIED, ApplyResult.APPLIED, ApplyResult.APPLIED);

    List<LoggedRequest> sent = requests();
    assertThat(sent).hasSize(1);
    LoggedRequest r = sent.get(0);
    assertThat(r.getUrl()).isEqualTo("/service/SU1Z0isx/purge");
    assertThat(r.getMethod().getName()).isEqualTo("POST");
    assertThat(r.getHeader("Fastly-Key")).isEqualTo("fastly-secret-token");
    assertThat(r.getHeader("Surrogate-Key"))
        .isEqualTo("acme:product-1 acme:category-9 acme:home globex:product-1");
    assertThat(r.containsHeader("Fastly-Soft-Purge")).isFalse();
    assertThat(r.getBody()).isEmpty();
  }

  @Test
  void fastlySoftPurgeSendsTheSoftPurgeHeader() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .endpoint(base())
            .service("svc")
            .token("t0ken")
            .softPurge(true)
            .build();
    assertThat(target.apply(List.of(Events.withCdnTags("acme", "x"))))
        .containsExactly(ApplyResult.APPLIED);
    assertThat(requests().get(0).getHeader("Fastly-Soft-Purge")).isEqualTo("1");
  }

  @Test
  void fastlySplitsAt256KeysPerRequest() {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .endpoint(base())
            .service("svc")
            .token("t0ken")
            .rateLimit(100)
            .build();
    InvalidationEvent a = Events.withCdnTags("acme", tags("a", 200));
    InvalidationEvent b = Events.withCdnTags("acme", tags("b", 113));

    assertThat(target.apply(List.of(a, b))).containsOnly(ApplyResult.APPLIED);

    List<LoggedRequest> sent = requests();
    assertThat(sent).hasSize(2);
    Set<String> all = new LinkedHashSet<>();
    List<Integer> sizes = new ArrayList<>();
    for (LoggedRequest r : sent) {
      List<String> keys = List.of(r.getHeader("Surrogate-Key").split(" "));
      sizes.add(keys.size());
      all.addAll(keys);
    }
    assertThat(sizes).containsExactlyInAnyOrder(256, 57);
    assertThat(all).hasSize(313).allMatch(k -> k.startsWith("acme:"));
  }

  @Test
  void cloudflarePurgeSendsTagsAsJsonWithBearerToken() throws Exception {
    server.stubFor(
        post(urlEqualTo("/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache"))
            .willReturn(
                aResponse()
                    .withStatus(200)
                    .withHeader("Content-Type", "application/json")
                    .withBody(
                        "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{\"id\":\"x\"}}")));
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.CLOUDFLARE)
            .endpoint(base())
            .service("023e105f4ecef8ad9ca31a8372d0c353")
            .token("cf-secret-token")
            .build();

    assertThat(target.apply(List.of(Events.withCdnTags("acme", "product-1", "home"))))
        .containsExactly(ApplyResult.APPLIED);

    LoggedRequest r = requests().get(0);
    assertThat(r.getUrl()).isEqualTo("/zones/023e105f4ecef8ad9ca31a8372d0c353/purge_cache");
    assertThat(r.getHeader("Authorization")).isEqualTo("Bearer cf-secret-token");
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    JsonNode body = JSON.readTree(r.getBodyAsString());
    assertThat(body.fieldNames()).toIterable().containsExactly("tags");
    assertThat(JSON.convertValue(body.get("tags"), String[].class))
        .containsExactly("acme:product-1", "acme:home");
  }

  @Test
  void cloudflareSplitsAt100TagsPerRequest() throws Exception {
    server.stubFor(
        post(anyUrl()).willReturn(aResponse().withStatus(200).withBody("{\"success\":true}")));
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.CLOUDFLARE)
            .endpoint(base())
            .service("zone")
            .token("t0ken")
            .rateLimit(100)
            .build();
    InvalidationEvent a = Events.withCdnTags("acme", tags("t", 250));

    assertThat(target.apply(List.of(a))).containsExactly(ApplyResult.APPLIED);

    List<Integer> sizes = new ArrayList<>();
    Set<String> all = new LinkedHashSet<>();
    for (LoggedRequest r : requests()) {
      String[] t =
          JSON.convertValue(JSON.readTree(r.getBodyAsString()).get("tags"), String[].class);
      sizes.add(t.length);
      all.addAll(List.of(t));
    }
    assertThat(sizes).containsExactlyInAnyOrder(100, 100, 50);
    assertThat(all).containsExactlyInAnyOrderElementsOf(tags("acme:t", 250));
  }

  @Test
  void cloudflareSuccessFalseIsAPermanentFailureCarryingItsErrors() {
    server.stubFor(
        post(anyUrl())
            .willReturn(
                aResponse()
                    .withStatus(200)
                    .withBody(
                        "{\"success\":false,\"errors\":[{\"code\":1234,\"message\":\"bad zone\"}]}")));
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.CLOUDFLARE)
            .endpoint(base())
            .service("zone")
            .token("t0ken")
            .build();
    ApplyResult r = target.apply(List.of(Events.withCdnTags("acme", "x"))).get(0);
    assertThat(r.status()).isEqualTo(ApplyResult.Status.FAILED);
    assertThat(((dev.invalidator.core.InvalidatorException) r.error()).isRetryable()).isFalse();
    assertThat(r.error().getMessage()).contains("bad zone");
  }

  @Test
  void akamaiPurgeIsAnEdgeGridSignedInvalidateByTag() throws Exception {
    server.stubFor(
        post(urlEqualTo("/ccu/v3/invalidate/tag/staging"))
            .willReturn(
                aResponse()
                    .withStatus(201)
                    .withBody(
                        "{\"httpStatus\":201,\"detail\":\"Request accepted\",\"estimatedSeconds\":5}")));
    MutableClock clock = new MutableClock(Instant.parse("2026-12-03T17:30:05Z"));
    AkamaiCredentials creds =
        new AkamaiCredentials("akab-client-abc", "c2VjcmV0LXNlY3JldA==", "akab-access-xyz");
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.AKAMAI)
            .endpoint(base())
            .network("staging")
            .akamai(creds)
            .clock(clock)
            .build();

    assertThat(target.apply(List.of(Events.withCdnTags("acme", "product-1", "home"))))
        .containsExactly(ApplyResult.APPLIED);

    LoggedRequest r = requests().get(0);
    assertThat(r.getUrl()).isEqualTo("/ccu/v3/invalidate/tag/staging");
    assertThat(r.getHeader("Content-Type")).startsWith("application/json");
    JsonNode body = JSON.readTree(r.getBodyAsString());
    assertThat(body.fieldNames()).toIterable().containsExactly("objects");
    assertThat(JSON.convertValue(body.get("objects"), String[].class))
        .containsExactly("acme|product-1", "acme|home");

    // The header, parsed and recomputed here from the request as the server received it.
    String auth = r.getHeader("Authorization");
    Matcher m =
        Pattern.compile(
                "EG1-HMAC-SHA256 client_token=([^;]+);access_token=([^;]+);timestamp=([^;]+);"
                    + "nonce=([^;]+);signature=(.+)")
            .matcher(auth);
    assertThat(m.matches()).as(auth).isTrue();
    assertThat(m.group(1)).isEqualTo("akab-client-abc");
    assertThat(m.group(2)).isEqualTo("akab-access-xyz");
    assertThat(m.group(3)).isEqualTo("20261203T17:30:05+0000");
    assertThat(m.group(4)).matches("[0-9a-f-]{36}");
    String unsigned = auth.substring(0, auth.indexOf("signature="));
    byte[] sent = r.getBody();
    String contentHash =
        Base64.getEncoder()
            .encodeToString(java.security.MessageDigest.getInstance("SHA-256").digest(sent));
    String data =
        String.join(
            "\t",
            "POST",
            "http",
            "localhost:" + server.port(),
            "/ccu/v3/invalidate/tag/staging",
            "",
            contentHash,
            unsigned);
    String signingKey = hmac("c2VjcmV0LXNlY3JldA==", m.group(3));
    assertThat(m.group(5)).isEqualTo(hmac(signingKey, data));
    assertThat(r.getHeader("Host")).isEqualTo("localhost:" + server.port());
  }

  @Test
  void akamaiKeepsEveryRequestBodyUnder50000Bytes() throws Exception {
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(201)));
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.AKAMAI)
            .endpoint(base())
            .akamai(new AkamaiCredentials("c", "s", "a"))
            .rateLimit(100)
            .build();
    // 2 x 256 tags of 120 characters: about 64 KB of objects, more than one body may hold.
    String pad = "x".repeat(112);
    InvalidationEvent a = Events.withCdnTags("acme", tags(pad + "a", 256));
    InvalidationEvent b = Events.withCdnTags("acme", tags(pad + "b", 256));

    assertThat(target.apply(List.of(a, b))).containsOnly(ApplyResult.APPLIED);

    List<LoggedRequest> sent = requests();
    assertThat(sent).hasSizeGreaterThan(1);
    int total = 0;
    for (LoggedRequest r : sent) {
      assertThat(r.getBody().length).isLessThanOrEqualTo(50_000);
      total += JSON.readTree(r.getBodyAsString()).get("objects").size();
    }
    assertThat(total).isEqualTo(512);
  }

  @Test
  void eventWithoutCdnTagsSendsNothing() {
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .endpoint(base())
            .service("svc")
            .token("t0ken")
            .build();
    assertThat(target.apply(List.of(Events.withCdnTags("acme"))))
        .containsExactly(ApplyResult.STALE_SKIPPED);
    assertThat(requests()).isEmpty();
  }

  @Test
  void defaultsAreTheProvidersPublicEndpoints() {
    Map<CdnProvider, String> endpoints = new TreeMap<>();
    for (CdnProvider p : CdnProvider.values()) {
      endpoints.put(p, String.valueOf(p.defaultEndpoint()));
    }
    assertThat(endpoints)
        .containsEntry(CdnProvider.FASTLY, "https://api.fastly.com")
        .containsEntry(CdnProvider.CLOUDFLARE, "https://api.cloudflare.com/client/v4")
        .containsEntry(CdnProvider.AKAMAI, "null");
  }

  private static String hmac(String key, String data) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
    return Base64.getEncoder().encodeToString(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));
  }
}
