package dev.invalidator.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The builder validates each setting and refuses conflicting ones, naming the setting. */
class CdnPurgeTargetBuilderTest {
  private static final AkamaiCredentials AKAMAI = new AkamaiCredentials("c", "s", "a");

  private static CdnPurgeTarget.Builder fastly() {
    return CdnPurgeTarget.builder().provider(CdnProvider.FASTLY).service("svc").token("t0ken");
  }

  private static CdnPurgeTarget.Builder akamai() {
    return CdnPurgeTarget.builder()
        .provider(CdnProvider.AKAMAI)
        .endpoint("https://akab-host.purge.akamaiapis.net/")
        .akamai(AKAMAI);
  }

  @Test
  void defaultsNameTheProviderAndUseItsPublicEndpoint() {
    CdnPurgeTarget t = fastly().build();
    assertThat(t.name()).isEqualTo("cdn-fastly");
    assertThat(t.provider()).isEqualTo(CdnProvider.FASTLY);
    assertThat(t.toString())
        .contains("endpoint=https://api.fastly.com")
        .contains("tagTemplate={tenant}:{tag}")
        .contains("softPurge=false");
    assertThat(akamai().build().toString())
        .contains("endpoint=https://akab-host.purge.akamaiapis.net,")
        .contains("network=production")
        .contains("tagTemplate={tenant}|{tag}");
  }

  @Test
  void missingOrMalformedSettingsAreRefusedByName() {
    assertThatThrownBy(() -> CdnPurgeTarget.builder().build()).hasMessageContaining("provider");
    assertThatThrownBy(() -> fastly().service(null).build()).hasMessageContaining("service");
    assertThatThrownBy(() -> fastly().service("svc/../x").build()).hasMessageContaining("service");
    assertThatThrownBy(() -> fastly().token(null).build()).hasMessageContaining("token");
    assertThatThrownBy(() -> fastly().token("a\r\nb").build()).hasMessageContaining("token");
    assertThatThrownBy(() -> fastly().endpoint("ftp://x").build()).hasMessageContaining("endpoint");
    assertThatThrownBy(() -> fastly().endpoint("https://x/?q=1").build())
        .hasMessageContaining("endpoint");
    assertThatThrownBy(() -> fastly().name("cdn fastly").build()).hasMessageContaining("name");
    assertThatThrownBy(() -> fastly().rateLimit(0).build()).hasMessageContaining("rateLimit");
    assertThatThrownBy(() -> fastly().rateLimit(Double.NaN).build())
        .hasMessageContaining("rateLimit");
    assertThatThrownBy(() -> fastly().requestTimeout(Duration.ZERO).build())
        .hasMessageContaining("requestTimeout");
    assertThatThrownBy(() -> fastly().connectTimeout(null).build())
        .hasMessageContaining("connectTimeout");
    assertThatThrownBy(() -> fastly().rateLimitWait(Duration.ofMillis(-1)).build())
        .hasMessageContaining("rateLimitWait");
    assertThatThrownBy(() -> fastly().tagTemplate("").build()).hasMessageContaining("tagTemplate");
    assertThatThrownBy(() -> fastly().tagTemplate("{tenant}:{tag} x").build())
        .hasMessageContaining("tagTemplate");
    assertThatThrownBy(() -> akamai().endpoint(null).build()).hasMessageContaining("endpoint");
    assertThatThrownBy(() -> akamai().akamai(null).build()).hasMessageContaining("akamai");
    assertThatThrownBy(() -> akamai().network("prod").build()).hasMessageContaining("network");
    assertThatThrownBy(() -> new AkamaiCredentials("c", "", "a"))
        .hasMessageContaining("akamai.clientSecret");
  }

  @Test
  void conflictingSettingsAreRefused() {
    assertThatThrownBy(() -> fastly().akamai(AKAMAI).build())
        .hasMessageContaining("akamai credentials are only for provider akamai");
    assertThatThrownBy(() -> fastly().network("staging").build())
        .hasMessageContaining("network is only for provider akamai");
    assertThatThrownBy(() -> akamai().token("t").build())
        .hasMessageContaining("token is not used by provider akamai");
    assertThatThrownBy(() -> akamai().service("svc").build())
        .hasMessageContaining("service is not used by provider akamai");
    assertThatThrownBy(() -> akamai().softPurge(false).build()).hasMessageContaining("softPurge");
    assertThatThrownBy(
            () ->
                CdnPurgeTarget.builder()
                    .provider(CdnProvider.CLOUDFLARE)
                    .service("zone")
                    .token("t")
                    .softPurge(true)
                    .build())
        .hasMessageContaining("softPurge: Cloudflare has no soft purge");
    assertThat(akamai().softPurge(true).build()).isNotNull();
  }
}
