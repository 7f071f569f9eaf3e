package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import dev.invalidator.http.AkamaiCredentials;
import dev.invalidator.http.CdnProvider;
import dev.invalidator.http.CdnPurgeTarget;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The demo's fake CDN against the real {@link CdnPurgeTarget}: a purge in the provider's shape is
 * accepted and recorded per tag; the same purge with a wrong credential (for Akamai a wrong client
 * secret, so only the recomputed signature differs) is refused, which is what makes the fake a
 * checker of the request's shape.
 */
class FakeCdnTest {
  private static CdnPurgeTarget target(CdnProvider provider, Map<String, String> s, boolean bad) {
    CdnPurgeTarget.Builder b =
        CdnPurgeTarget.builder().provider(provider).endpoint(s.get("targets.cdn.endpoint"));
    if (provider == CdnProvider.AKAMAI) {
      b.akamai(
          new AkamaiCredentials(
              s.get("targets.cdn.akamai.clientToken"),
              bad ? "wrong-secret" : s.get("targets.cdn.akamai.clientSecret"),
              s.get("targets.cdn.akamai.accessToken")));
    } else {
      b.service(s.get("targets.cdn.service"))
          .token(bad ? "wrong-token" : s.get("targets.cdn.token"));
    }
    return b.build();
  }

  private static InvalidationEvent event() {
    return InvalidationEvent.builder()
        .tenant("tenant-0")
        .aggregate("account", "acct-1")
        .version(2)
        .payload(new Payload(List.of(), List.of(), List.of("acct-1", "accounts")))
        .build();
  }

  @ParameterizedTest
  @EnumSource(CdnProvider.class)
  void wellFormedPurgesAreRecordedAndAWrongCredentialIsRefused(CdnProvider provider)
      throws Exception {
    try (FakeCdn cdn = FakeCdn.start(provider, 0)) {
      ApplyResult ok = target(provider, cdn.settings(), false).apply(List.of(event())).get(0);
      assertThat(ok.status()).as(String.valueOf(ok.error())).isEqualTo(ApplyResult.Status.APPLIED);
      assertThat(cdn.lastPurged(cdn.rendered("tenant-0", "acct-1"))).isNotNull();
      assertThat(cdn.lastPurged(cdn.rendered("tenant-0", "accounts"))).isNotNull();
      assertThat(cdn.tagsPurged.sum()).isEqualTo(2);
      assertThat(cdn.refused.sum()).isZero();

      ApplyResult refused = target(provider, cdn.settings(), true).apply(List.of(event())).get(0);
      assertThat(refused.succeeded()).isFalse();
      assertThat(cdn.refused.sum()).isEqualTo(1);
      assertThat(cdn.lastRefusal())
          .containsAnyOf("Fastly-Key", "Authorization", "signature does not match");
      assertThat(cdn.tagsPurged.sum()).isEqualTo(2);
    }
  }
}
