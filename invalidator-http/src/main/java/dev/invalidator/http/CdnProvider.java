package dev.invalidator.http;

import java.util.Locale;

/**
 * The CDNs a {@link CdnPurgeTarget} can purge by tag, with each one's documented limits: how many
 * tags one purge request may carry, how long one tag may be, and which characters a tag may hold.
 */
public enum CdnProvider {
  /**
   * Fastly: {@code POST /service/{service_id}/purge} with the keys in a space-separated {@code
   * Surrogate-Key} header, at most 256 per request; keys are printable ASCII.
   */
  FASTLY("https://api.fastly.com", 256, 1024, "{tenant}:{tag}"),
  /**
   * Cloudflare: {@code POST /zones/{zone_id}/purge_cache} with {@code {"tags":[...]}}, at most 100
   * tags per request; tags are printable ASCII without commas (the {@code Cache-Tag} delimiter).
   */
  CLOUDFLARE("https://api.cloudflare.com/client/v4", 100, 1024, "{tenant}:{tag}"),
  /**
   * Akamai Fast Purge v3: {@code POST /ccu/v3/invalidate/tag/{network}} with {@code
   * {"objects":[...]}}, EdgeGrid-signed, a body of at most 50,000 bytes; a cache tag is at most 128
   * characters of letters, digits and {@code ! # $ % & ' + - . ^ _ ` | ~} (no {@code :}, {@code @},
   * {@code =} or {@code /}), so its default template separates tenant and tag with {@code |}.
   */
  AKAMAI(null, 5_000, 128, "{tenant}|{tag}");

  private final String defaultEndpoint;
  private final int maxTagsPerRequest;
  private final int maxTagLength;
  private final String defaultTagTemplate;

  CdnProvider(
      String defaultEndpoint, int maxTagsPerRequest, int maxTagLength, String defaultTagTemplate) {
    this.defaultEndpoint = defaultEndpoint;
    this.maxTagsPerRequest = maxTagsPerRequest;
    this.maxTagLength = maxTagLength;
    this.defaultTagTemplate = defaultTagTemplate;
  }

  /** The public API endpoint, or null where it is per account (Akamai's host is a credential). */
  public String defaultEndpoint() {
    return defaultEndpoint;
  }

  /** The most tags one purge request may carry. */
  public int maxTagsPerRequest() {
    return maxTagsPerRequest;
  }

  /** The longest tag the provider accepts. */
  public int maxTagLength() {
    return maxTagLength;
  }

  /** The tag template used when none is configured. */
  public String defaultTagTemplate() {
    return defaultTagTemplate;
  }

  /** The label form, such as {@code fastly}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses a label, case-insensitively. */
  public static CdnProvider fromLabel(String label) {
    return valueOf(label.trim().toUpperCase(Locale.ROOT));
  }

  /** True when {@code c} may appear in one of this provider's tags. */
  boolean allowsInTag(char c) {
    if (c < 0x21 || c > 0x7e) {
      return false; // none of the three takes spaces, controls or non-ASCII
    }
    switch (this) {
      case FASTLY:
        return true;
      case CLOUDFLARE:
        return c != ',';
      case AKAMAI:
        return (c >= 'a' && c <= 'z')
            || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || "!#$%&'+-.^_`|~".indexOf(c) >= 0;
      default:
        throw new AssertionError(this);
    }
  }
}
