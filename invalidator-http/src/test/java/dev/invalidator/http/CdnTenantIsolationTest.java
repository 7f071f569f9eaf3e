package dev.invalidator.http;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.tomakehurst.wiremock.WireMockServer;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.Payload;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** G5 at the CDN: an event's cdn_tags can only ever purge tags of the event's own tenant. */
class CdnTenantIsolationTest {
  private static final List<String> CRAFTED =
      List.of(
          "other:tag",
          "globex:product-1",
          "{tenant}",
          "{tag}",
          "a b",
          "a\tb",
          "x\u0000",
          "x\r\nFastly-Key: stolen",
          "*",
          "",
          "x".repeat(129));

  private static WireMockServer server;

  @BeforeAll
  static void start() {
    server = new WireMockServer(wireMockConfig().dynamicPort());
    server.start();
    server.stubFor(post(anyUrl()).willReturn(aResponse().withStatus(200)));
  }

  @AfterAll
  static void stop() {
    server.stop();
  }

  @Test
  void craftedTagsCannotEvenBecomeAnEvent() {
    for (String tag : CRAFTED) {
      assertThatThrownBy(() -> new Payload(List.of(), List.of(), List.of(tag)))
          .as(tag)
          .isInstanceOf(InvalidEventException.class)
          .hasMessageContaining("payload.cdn_tags[0]");
    }
  }

  @Test
  void theTargetRefusesCraftedTagsItselfToo() {
    // Defence in depth: were the payload's own check ever loosened, the template still refuses.
    for (CdnProvider p : CdnProvider.values()) {
      TagTemplate t = TagTemplate.parse(p.defaultTagTemplate(), p);
      for (String tag : CRAFTED) {
        assertThatThrownBy(() -> t.render("acme", tag, "payload.cdn_tags[0]"))
            .as(p + " " + tag)
            .isInstanceOf(InvalidEventException.class);
      }
    }
  }

  @Test
  void dotDotTagStaysUnderItsTenant() {
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.FASTLY)
            .endpoint("http://localhost:" + server.port())
            .service("svc")
            .token("t0ken")
            .build();
    int before = server.findAll(postRequestedFor(anyUrl())).size();

    assertThat(target.apply(List.of(Events.withCdnTags("acme", "../x", "..", "globex"))))
        .containsExactly(ApplyResult.APPLIED);

    var sent = server.findAll(postRequestedFor(anyUrl()));
    assertThat(sent).hasSize(before + 1);
    assertThat(sent.get(sent.size() - 1).getHeader("Surrogate-Key"))
        .isEqualTo("acme:../x acme:.. acme:globex");
  }

  @Test
  void akamaiRefusesATagItsCacheTagsCannotHoldAsAPermanentFailure() {
    CdnPurgeTarget target =
        CdnPurgeTarget.builder()
            .provider(CdnProvider.AKAMAI)
            .endpoint("http://localhost:" + server.port())
            .akamai(new AkamaiCredentials("c", "s", "a"))
            .build();
    int before = server.findAll(postRequestedFor(anyUrl())).size();

    ApplyResult r = target.apply(List.of(Events.withCdnTags("acme", "../x"))).get(0);

    assertThat(r.status()).isEqualTo(ApplyResult.Status.FAILED);
    assertThat(((InvalidatorException) r.error()).isRetryable()).isFalse();
    assertThat(r.error().getMessage()).contains("payload.cdn_tags[0]").contains("'/'");
    assertThat(r.error().getCause()).isInstanceOf(InvalidEventException.class);
    assertThat(server.findAll(postRequestedFor(anyUrl()))).hasSize(before);
  }

  @Test
  void noTwoTenantsEverRenderTheSameTag() {
    // Tenants and tags chosen to collide under a careless template ("{tenant}_{tag}" or
    // "{tenant}{tag}"): every rendering must name its own tenant and no other.
    List<String> tenants = List.of("a", "a_b", "a.b", "ab", "b", "a-", "acme", "acme.eu");
    List<String> tags = List.of("b_c", "c", "b", ".b", "_b", "eu", ".eu", "x");
    for (CdnProvider p : CdnProvider.values()) {
      TagTemplate t = TagTemplate.parse(p.defaultTagTemplate(), p);
      Map<String, String> owner = new HashMap<>();
      for (String tenant : tenants) {
        for (String tag : tags) {
          String rendered = t.render(tenant, tag, "payload.cdn_tags[0]");
          String previous = owner.putIfAbsent(rendered, tenant);
          assertThat(previous).as(p + " " + rendered).isIn(null, tenant);
        }
      }
    }
  }

  @Test
  void negativeControlTheseTenantsAndTagsDoCollideUnderACarelessTemplate() {
    // The same check as above on "{tenant}_{tag}" rendered by hand (the builder refuses it).
    Map<String, String> owner = new HashMap<>();
    boolean collided = false;
    for (String tenant : List.of("a", "a_b")) {
      for (String tag : List.of("b_c", "c")) {
        String previous = owner.putIfAbsent(tenant + "_" + tag, tenant);
        collided |= previous != null && !previous.equals(tenant);
      }
    }
    assertThat(collided).isTrue();
  }

  @Test
  void templateWithoutTenantIsRefused() {
    assertThatThrownBy(() -> fastly().tagTemplate("{tag}").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tagTemplate must contain {tenant}");
    assertThatThrownBy(() -> fastly().tagTemplate("site:{tag}").build())
        .hasMessageContaining("tagTemplate must contain {tenant}");
    assertThatThrownBy(() -> fastly().tagTemplate("{tenant}:{tag}:{tenant}").build())
        .hasMessageContaining("exactly once");
  }

  @Test
  void templateWhoseSeparatorATenantCanHoldIsRefused() {
    // Tenant a_b with tag c and tenant a with tag b_c would both purge "a_b_c".
    for (String template : List.of("{tenant}_{tag}", "{tenant}{tag}", "{tag}.{tenant}")) {
      assertThatThrownBy(() -> fastly().tagTemplate(template).build())
          .as(template)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("tagTemplate must separate {tenant} and {tag}");
    }
    assertThat(fastly().tagTemplate("site-{tenant}:{tag}").build()).isNotNull();
    assertThat(fastly().tagTemplate("{tag}#{tenant}").build()).isNotNull();
  }

  @Test
  void akamaiRefusesTheColonTemplateWithAClearMessage() {
    assertThatThrownBy(
            () ->
                CdnPurgeTarget.builder()
                    .provider(CdnProvider.AKAMAI)
                    .endpoint("https://akab-host.purge.akamaiapis.net")
                    .akamai(new AkamaiCredentials("c", "s", "a"))
                    .tagTemplate("{tenant}:{tag}")
                    .build())
        .hasMessageContaining("tagTemplate")
        .hasMessageContaining("':'")
        .hasMessageContaining("akamai");
  }

  private static CdnPurgeTarget.Builder fastly() {
    return CdnPurgeTarget.builder()
        .provider(CdnProvider.FASTLY)
        .endpoint("http://localhost:" + server.port())
        .service("svc")
        .token("t0ken");
  }
}
