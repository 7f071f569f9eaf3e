package dev.invalidator.server.config;

import dev.invalidator.core.Target;
import dev.invalidator.http.AkamaiCredentials;
import dev.invalidator.http.CdnProvider;
import dev.invalidator.http.CdnPurgeTarget;
import dev.invalidator.http.WebhookTarget;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The targets beyond Redis: a CDN purged by tag and a webhook, each off until configured. Each one
 * the daemon runs applies the stream in a consumer group of its own, so a slow, rate-limited or
 * failing CDN never delays Redis invalidation.
 *
 * @param cdn the CDN target; off while {@code targets.cdn.provider} is empty
 * @param webhook the webhook target; off while {@code targets.webhook.url} is empty
 * @param idempotencyTtl how long a processed-event record keeps a redelivered event from being sent
 *     again
 * @param cdnEveryEvent purge every event's cdn_tags in a consumer group of its own; false leaves
 *     the CDN to {@code purge-cdn} workflow steps
 */
public record TargetsConfig(
    Cdn cdn, Webhook webhook, Duration idempotencyTtl, boolean cdnEveryEvent) {

  /**
   * The configured targets beyond Redis, built; empty when none is configured. The CDN is left out
   * when {@code targets.cdn.everyEvent} is false: then only {@code purge-cdn} workflow steps purge
   * it.
   */
  public List<Target> build() {
    List<Target> out = new ArrayList<>();
    if (cdn.configured() && cdnEveryEvent) {
      out.add(cdn.builder().build());
    }
    if (webhook.configured()) {
      out.add(webhook.builder().build());
    }
    return out;
  }

  /** {@code targets.cdn.*}. Secrets never appear in {@link #toString()}. */
  public record Cdn(
      String provider,
      String endpoint,
      String service,
      String network,
      String token,
      String akamaiClientToken,
      String akamaiClientSecret,
      String akamaiAccessToken,
      String tagTemplate,
      boolean softPurge,
      double rateLimit) {

    public boolean configured() {
      return !provider.isEmpty();
    }

    /** A builder with every configured value set; {@code build()} checks them. */
    public CdnPurgeTarget.Builder builder() {
      CdnProvider p = CdnProvider.fromLabel(provider);
      CdnPurgeTarget.Builder b = CdnPurgeTarget.builder().provider(p).rateLimit(rateLimit);
      if (softPurge) {
        // Only when asked for: the builder refuses an explicit false for Akamai (it always
        // invalidates) and leaves each provider's default otherwise.
        b.softPurge(true);
      }
      if (!endpoint.isEmpty()) {
        b.endpoint(endpoint);
      }
      if (!service.isEmpty()) {
        b.service(service);
      }
      if (!network.isEmpty() && p == CdnProvider.AKAMAI) {
        b.network(network);
      }
      if (!token.isEmpty()) {
        b.token(token);
      }
      if (!akamaiClientToken.isEmpty()
          || !akamaiClientSecret.isEmpty()
          || !akamaiAccessToken.isEmpty()) {
        b.akamai(new AkamaiCredentials(akamaiClientToken, akamaiClientSecret, akamaiAccessToken));
      }
      if (!tagTemplate.isEmpty()) {
        b.tagTemplate(tagTemplate);
      }
      return b;
    }

    @Override
    public String toString() {
      return "Cdn[provider="
          + provider
          + ", endpoint="
          + endpoint
          + ", service="
          + service
          + ", network="
          + network
          + ", token="
          + mask(token)
          + ", akamai="
          + mask(akamaiClientToken + akamaiClientSecret + akamaiAccessToken)
          + ", tagTemplate="
          + tagTemplate
          + ", softPurge="
          + softPurge
          + ", rateLimit="
          + rateLimit
          + "]";
    }
  }

  /** {@code targets.webhook.*}. The secret and the URL's path and query never appear in logs. */
  public record Webhook(String url, String secret, double rateLimit) {
    public boolean configured() {
      return !url.isEmpty();
    }

    /** A builder with every configured value set; {@code build()} checks them. */
    public WebhookTarget.Builder builder() {
      return WebhookTarget.builder().name("webhook").url(url).secret(secret).rateLimit(rateLimit);
    }

    @Override
    public String toString() {
      return "Webhook[url="
          + origin(url)
          + ", secret="
          + mask(secret)
          + ", rateLimit="
          + rateLimit
          + "]";
    }
  }

  private static String mask(String secret) {
    return secret.isEmpty() ? "" : "****";
  }

  private static String origin(String url) {
    if (url.isEmpty()) {
      return "";
    }
    try {
      URI u = URI.create(url);
      return u.getScheme()
          + "://"
          + u.getHost()
          + (u.getPort() > 0 ? ":" + u.getPort() : "")
          + "/…";
    } catch (IllegalArgumentException e) {
      return "****";
    }
  }

  /**
   * The setting a builder's message is about: builders name their field first ({@code "token is
   * required"}), which maps to {@code targets.cdn.token}; anything else to the target's main key.
   */
  static String settingOf(String prefix, String message, String fallback) {
    String first = message == null ? "" : message.split("[ :]", 2)[0].toLowerCase(Locale.ROOT);
    return switch (first) {
      case "endpoint", "service", "network", "token", "url", "secret" -> prefix + "." + first;
      case "tagtemplate" -> prefix + ".tagTemplate";
      case "softpurge" -> prefix + ".softPurge";
      case "ratelimit" -> prefix + ".rateLimit";
      case "akamai" -> prefix + ".akamai.clientToken";
      default -> fallback;
    };
  }
}
