package dev.invalidator.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.github.tomakehurst.wiremock.WireMockServer;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.Target;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Tokens, Akamai credentials and webhook secrets never appear in a {@code toString}, a log line (at
 * DEBUG, through every outcome: success, 429, 4xx, 5xx, timeout) or an error that ends up in a dead
 * letter.
 */
class SecretsStayOutOfLogsTest {
  private static final String FASTLY_TOKEN = "fastly-TOKEN-7f3a9c";
  private static final String CF_TOKEN = "cloudflare-TOKEN-1b2c3d";
  private static final String AKAMAI_CLIENT = "akab-CLIENT-TOKEN-42";
  private static final String AKAMAI_SECRET = "AKAMAI-SECRET-c2VjcmV0";
  private static final String AKAMAI_ACCESS = "akab-ACCESS-TOKEN-43";
  private static final String URL_PATH_SECRET = "PATH-SECRET-9d8e";
  private static final String URL_QUERY_SECRET = "QUERY-SECRET-5a6b";
  private static final String WEBHOOK_KEY = WebhookTargetTest.SECRET.substring("whsec_".length());

  private WireMockServer server;
  private ListAppender<ILoggingEvent> appender;
  private Logger logger;

  @BeforeEach
  void setUp() {
    server = new WireMockServer(wireMockConfig().dynamicPort());
    server.start();
    logger = (Logger) LoggerFactory.getLogger("dev.invalidator");
    logger.setLevel(Level.DEBUG);
    appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
  }

  @AfterEach
  void tearDown() {
    logger.detachAppender(appender);
    server.stop();
  }

  private List<Target> targets() {
    String base = "http://localhost:" + server.port();
    return List.of(
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .endpoint(base)
            .service("svc")
            .token(FASTLY_TOKEN)
            .requestTimeout(Duration.ofMillis(1_500))
            .build(),
        CdnPurgeTarget.builder()
            .provider(CdnProvider.CLOUDFLARE)
            .endpoint(base)
            .service("zone")
            .token(CF_TOKEN)
            .requestTimeout(Duration.ofMillis(1_500))
            .build(),
        CdnPurgeTarget.builder()
            .provider(CdnProvider.AKAMAI)
            .endpoint(base)
            .akamai(new AkamaiCredentials(AKAMAI_CLIENT, AKAMAI_SECRET, AKAMAI_ACCESS))
            .requestTimeout(Duration.ofMillis(1_500))
            .build(),
        WebhookTarget.builder()
            .name("search")
            .url(base + "/hooks/T0/B0/" + URL_PATH_SECRET + "?sig=" + URL_QUERY_SECRET)
            .secret(WebhookTargetTest.SECRET)
            .requestTimeout(Duration.ofMillis(1_500))
            .build());
  }

  @Test
  void noSecretInToStringLogsOrErrors() {
    List<String> seen = new ArrayList<>();
    seen.add(
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .service("svc")
            .token(FASTLY_TOKEN)
            .toString());
    seen.add(
        CdnPurgeTarget.builder()
            .provider(CdnProvider.AKAMAI)
            .akamai(new AkamaiCredentials(AKAMAI_CLIENT, AKAMAI_SECRET, AKAMAI_ACCESS))
            .toString());
    seen.add(
        WebhookTarget.builder()
            .name("s")
            .url("https://h/" + URL_PATH_SECRET + "?q=" + URL_QUERY_SECRET)
            .secret(WebhookTargetTest.SECRET)
            .toString());
    List<Target> targets = targets();
    targets.forEach(t -> seen.add(t.toString()));

    int[] statuses = {200, 201, 429, 403, 503};
    for (int status : statuses) {
      server.resetAll();
      server.stubFor(
          post(anyUrl())
              .willReturn(
                  aResponse()
                      .withStatus(status)
                      .withHeader("Retry-After", "0")
                      .withBody("{\"detail\":\"x\"}")));
      for (Target t : targets) {
        try {
          for (ApplyResult r : t.apply(List.of(Events.withCdnTags("acme", "t" + status)))) {
            seen.add(String.valueOf(r.error()));
          }
        } catch (RuntimeException ex) { // a loaded machine may time out: that message counts too
          seen.add(ex.toString());
        }
      }
    }
    server.resetAll();
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200).withFixedDelay(3_000)));
    for (Target t : targets) {
      try {
        t.apply(List.of(Events.withCdnTags("acme", "slow")));
      } catch (RuntimeException ex) {
        seen.add(ex.toString());
      }
    }
    for (ILoggingEvent e : appender.list) {
      seen.add(e.getFormattedMessage());
      if (e.getThrowableProxy() != null) {
        seen.add(ThrowableProxyUtil.asString(e.getThrowableProxy()));
      }
    }

    assertThat(appender.list).as("the targets did log").isNotEmpty();
    // The secrets did travel: the provider and the receiver got them.
    assertThat(server.getAllServeEvents())
        .anySatisfy(e -> assertThat(e.getRequest().getHeader("Fastly-Key")).isEqualTo(FASTLY_TOKEN))
        .anySatisfy(e -> assertThat(e.getRequest().getUrl()).contains(URL_QUERY_SECRET));
    for (String s : seen) {
      assertThat(s)
          .doesNotContain(FASTLY_TOKEN)
          .doesNotContain(CF_TOKEN)
          .doesNotContain(AKAMAI_CLIENT)
          .doesNotContain(AKAMAI_SECRET)
          .doesNotContain(AKAMAI_ACCESS)
          .doesNotContain(WEBHOOK_KEY)
          .doesNotContain(URL_PATH_SECRET)
          .doesNotContain(URL_QUERY_SECRET);
    }
  }
}
