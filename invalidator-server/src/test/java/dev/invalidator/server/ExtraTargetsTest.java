package dev.invalidator.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.ConfigLoader;
import java.sql.Connection;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The daemon's targets beyond Redis, configured as a user configures them and reached over real
 * HTTP (WireMock plays Fastly and a webhook receiver): an event's cdn_tags are purged under its
 * tenant, every event is posted once with Standard Webhooks headers, and a CDN that answers 503
 * does not hold back Redis invalidation (its own consumer group).
 */
class ExtraTargetsTest {
  private static final String SECRET =
      "whsec_" + Base64.getEncoder().encodeToString("0123456789abcdef0123456789abcdef".getBytes());

  private WireMockServer http;

  @BeforeEach
  void startHttp() {
    http = new WireMockServer(options().dynamicPort());
    http.start();
  }

  @AfterEach
  void stopHttp() {
    http.stop();
  }

  private Map<String, String> targets() {
    return Map.of(
        "targets.cdn.provider",
        "fastly",
        "targets.cdn.endpoint",
        http.baseUrl(),
        "targets.cdn.service",
        "svc1",
        "targets.cdn.token",
        "fastly-token-123",
        "targets.webhook.url",
        http.baseUrl() + "/hooks/invalidations?key=private",
        "targets.webhook.secret",
        SECRET);
  }

  @Test
  void cdnAndWebhookTargetsReceiveEveryEventOnceUnderItsTenant() throws Exception {
    http.stubFor(post(urlEqualTo("/service/svc1/purge")).willReturn(aResponse().withStatus(200)));
    http.stubFor(
        post(urlEqualTo("/hooks/invalidations?key=private"))
            .willReturn(aResponse().withStatus(204)));
    try (TestEnv env = new TestEnv(targets());
        Pipeline pipeline =
            new Pipeline(
                env.cfg,
                env.servers,
                Daemon.Role.ALL,
                WorkerListener.NONE,
                dev.invalidator.outbox.RelayListener.NONE,
                java.time.Clock.systemUTC())) {
      pipeline.start();
      InvalidationEvent e =
          InvalidationEvent.builder()
              .tenant("acme")
              .aggregate("product", "7")
              .version(3)
              .payload(new Payload(List.of(), List.of(), List.of("product-7", "catalog")))
              .build();
      try (Connection c = env.servers.dataSource().getConnection()) {
        c.setAutoCommit(false);
        env.writer.append(c, e);
        c.commit();
      }
      await()
          .atMost(Duration.ofSeconds(15))
          .untilAsserted(
              () -> {
                http.verify(1, postRequestedFor(urlEqualTo("/service/svc1/purge")));
                http.verify(1, postRequestedFor(urlEqualTo("/hooks/invalidations?key=private")));
              });
      LoggedRequest purge =
          http.findAll(postRequestedFor(urlEqualTo("/service/svc1/purge"))).get(0);
      assertThat(purge.getHeader("Fastly-Key")).isEqualTo("fastly-token-123");
      assertThat(List.of(purge.getHeader("Surrogate-Key").split(" ")))
          .containsExactlyInAnyOrder("acme:product-7", "acme:catalog");
      LoggedRequest hook =
          http.findAll(postRequestedFor(urlEqualTo("/hooks/invalidations?key=private"))).get(0);
      assertThat(hook.getHeader("webhook-id")).contains(e.eventId().toString());
      assertThat(hook.getHeader("webhook-signature")).startsWith("v1,");
      // Each target in its own consumer group next to the Redis workers' group.
      assertThat(env.servers.connection().sync().xinfoGroups(env.keys.stream())).hasSize(3);
    }
  }

  @Test
  void failingCdnNeverHoldsBackRedisInvalidation() throws Exception {
    http.stubFor(post(urlEqualTo("/service/svc1/purge")).willReturn(aResponse().withStatus(503)));
    http.stubFor(
        post(urlEqualTo("/hooks/invalidations?key=private"))
            .willReturn(aResponse().withStatus(204)));
    try (TestEnv env = new TestEnv(targets());
        Pipeline pipeline =
            new Pipeline(
                env.cfg,
                env.servers,
                Daemon.Role.ALL,
                WorkerListener.NONE,
                dev.invalidator.outbox.RelayListener.NONE,
                java.time.Clock.systemUTC())) {
      pipeline.start();
      try (Connection c = env.servers.dataSource().getConnection()) {
        c.setAutoCommit(false);
        for (int v = 1; v <= 20; v++) {
          env.writer.append(
              c,
              InvalidationEvent.builder()
                  .tenant("acme")
                  .aggregate("account", "a" + v)
                  .version(v)
                  .payload(new Payload(List.of(), List.of(), List.of("account-a" + v)))
                  .build());
        }
        c.commit();
      }
      var redis = env.servers.connection().sync();
      await()
          .atMost(Duration.ofSeconds(15))
          .until(
              () -> {
                for (int v = 1; v <= 20; v++) {
                  String fence =
                      redis.get(
                          env.keys.fence(
                              new dev.invalidator.core.AggregateRef("acme", "account", "a" + v)));
                  if (fence == null || Long.parseLong(fence) < v) {
                    return false;
                  }
                }
                return true;
              });
      // The CDN keeps failing: its entries stay pending in its own group while the Redis
      // workers' group has applied and acknowledged everything.
      await()
          .atMost(Duration.ofSeconds(15))
          .until(
              () -> !http.findAll(postRequestedFor(urlEqualTo("/service/svc1/purge"))).isEmpty());
      await()
          .atMost(Duration.ofSeconds(5))
          .until(() -> redis.xpending(env.keys.stream(), "invalidator").getCount() == 0);
      assertThat(redis.xpending(env.keys.stream(), "invalidator-cdn-fastly").getCount())
          .isPositive();
    }
  }

  @Test
  void wrongTargetSettingsStopStartUpNamingTheSetting() {
    assertThatThrownBy(
            () ->
                ConfigLoader.load(
                    null,
                    Map.of(),
                    Map.of(
                        "targets.cdn.provider", "fastly",
                        "targets.cdn.service", "svc1",
                        "targets.cdn.token", "t",
                        "targets.cdn.tagTemplate", "{tag}")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("targets.cdn.tagTemplate")
        .hasMessageContaining("{tenant}");
    assertThatThrownBy(
            () -> ConfigLoader.load(null, Map.of(), Map.of("targets.cdn.provider", "akamia")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("targets.cdn.provider");
    // Akamai with the default targets.cdn.softPurge (false) is a valid configuration.
    assertThat(
            ConfigLoader.load(
                    null,
                    Map.of(),
                    Map.of(
                        "targets.cdn.provider", "akamai",
                        "targets.cdn.endpoint", "https://akab-x.luna.akamaiapis.net",
                        "targets.cdn.akamai.clientToken", "akab-client",
                        "targets.cdn.akamai.clientSecret", "c2VjcmV0",
                        "targets.cdn.akamai.accessToken", "akab-access"))
                .targets()
                .build())
        .hasSize(1);
    String shown = ConfigLoader.load(null, Map.of(), targets()).targets().toString();
    assertThat(shown)
        .doesNotContain("fastly-token-123")
        .doesNotContain("private")
        .doesNotContain(SECRET);
  }
}
