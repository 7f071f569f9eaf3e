package dev.invalidator.http;

import dev.invalidator.core.Target;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A {@link Target} that purges, by tag, the CDN content an event names in its payload's {@code
 * cdn_tags}: Fastly (surrogate keys), Cloudflare (cache tags) or Akamai Fast Purge v3 (cache tags,
 * invalidate).
 *
 * <p>Each tag is rendered through a template that holds the event's tenant ({@code
 * "{tenant}:{tag}"} by default), so one tenant's event can never purge another tenant's content; a
 * tag that is not a valid identifier, or that renders to a tag the provider cannot hold, fails its
 * event permanently. The tags of all events of a batch are deduplicated and sent in as few requests
 * as the provider's per-request limit allows; an event is applied when every request carrying one
 * of its tags succeeded.
 *
 * <p>Failures: a 429 throttles the target's token bucket for the advertised time and fails the
 * events concerned as retryable; 5xx, 408 and 425 are retryable; any other 4xx is permanent and
 * carries the provider's error body (trimmed); when no request of a batch got any response
 * (refused, timed out), {@link #apply} throws a retryable exception: the target is down, which is
 * what the worker's circuit breaker is for. Purges are idempotent at the CDN, so the target is safe
 * to repeat; wrap it in the Redis {@code IdempotentTarget} to send a redelivered event only once.
 *
 * <pre>{@code
 * Target cdn = CdnPurgeTarget.builder()
 *     .provider(CdnProvider.FASTLY)
 *     .service("SU1Z0isxPaozGVKXdv0eY")
 *     .token(System.getenv("FASTLY_TOKEN"))
 *     .softPurge(true)
 *     .rateLimit(20)
 *     .build();
 * }</pre>
 */
public interface CdnPurgeTarget extends Target {
  /** The provider this target purges. */
  CdnProvider provider();

  /** A builder; {@link Builder#build()} validates every setting. */
  static Builder builder() {
    return new Builder();
  }

  /** Settings of a {@link CdnPurgeTarget}; the token and credentials never show in toString. */
  final class Builder {
    /** Default time a purge request may take, from sending to the response's headers. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(5);

    /** Default time to open a connection. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);

    /** Default request rate, per second. */
    public static final double DEFAULT_RATE_LIMIT = 10;

    /** Default longest wait of a batch for a request token before its events fail retryably. */
    public static final Duration DEFAULT_RATE_LIMIT_WAIT = Duration.ofSeconds(1);

    /** Default tag template of Fastly and Cloudflare ({@link CdnProvider#defaultTagTemplate()}). */
    public static final String DEFAULT_TAG_TEMPLATE = "{tenant}:{tag}";

    /** Default Akamai network. */
    public static final String DEFAULT_NETWORK = "production";

    static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    static final Pattern SERVICE = Pattern.compile("[A-Za-z0-9_-]{1,64}");

    CdnProvider provider;
    String name;
    String endpoint;
    String service;
    String network;
    String token;
    AkamaiCredentials akamai;
    String tagTemplate;
    Boolean softPurge;
    double rateLimit = DEFAULT_RATE_LIMIT;
    Duration rateLimitWait = DEFAULT_RATE_LIMIT_WAIT;
    Duration requestTimeout = DEFAULT_REQUEST_TIMEOUT;
    Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    Clock clock = Clock.systemUTC();

    Builder() {}

    /** Required: which CDN. */
    public Builder provider(CdnProvider provider) {
      this.provider = provider;
      return this;
    }

    /** The target's name in metrics and dead letters; default {@code cdn-<provider>}. */
    public Builder name(String name) {
      this.name = name;
      return this;
    }

    /**
     * The API base URL; default the provider's public API ({@link CdnProvider#defaultEndpoint()}).
     * Required for Akamai: {@code https://<host>} of the API client's credentials.
     */
    public Builder endpoint(String endpoint) {
      this.endpoint = endpoint;
      return this;
    }

    /** Fastly: the service id. Cloudflare: the zone id. Not used by Akamai. */
    public Builder service(String service) {
      this.service = service;
      return this;
    }

    /** Akamai only: {@code production} (default) or {@code staging}. */
    public Builder network(String network) {
      this.network = network;
      return this;
    }

    /** Fastly: the API token ({@code Fastly-Key}). Cloudflare: the API token (Bearer). */
    public Builder token(String token) {
      this.token = token;
      return this;
    }

    /** Akamai only: the EdgeGrid credentials. */
    public Builder akamai(AkamaiCredentials credentials) {
      this.akamai = credentials;
      return this;
    }

    /**
     * How a payload tag becomes a CDN tag: must hold {@code {tenant}} and {@code {tag}} once each,
     * separated by a character tenant ids and tags cannot contain; default {@code "{tenant}:{tag}"}
     * ({@code "{tenant}|{tag}"} for Akamai, whose tags cannot hold ':').
     */
    public Builder tagTemplate(String tagTemplate) {
      this.tagTemplate = tagTemplate;
      return this;
    }

    /**
     * Fastly: mark content stale instead of removing it ({@code Fastly-Soft-Purge: 1}). Akamai
     * always invalidates (marks stale), so only {@code true} is accepted; Cloudflare has no soft
     * purge, so only {@code false} is. Default false (Akamai: true).
     */
    public Builder softPurge(boolean softPurge) {
      this.softPurge = softPurge;
      return this;
    }

    /** Purge requests per second this target sends at most; default 10. */
    public Builder rateLimit(double requestsPerSecond) {
      this.rateLimit = requestsPerSecond;
      return this;
    }

    /** How long a batch waits for a request token before its events fail as retryable. */
    public Builder rateLimitWait(Duration wait) {
      this.rateLimitWait = wait;
      return this;
    }

    /** How long a request may take until its response; default 5 s. */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = timeout;
      return this;
    }

    /** How long opening a connection may take; default 2 s. */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = timeout;
      return this;
    }

    /** The clock of the rate limiter and of Akamai's signature timestamps. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Validates every setting and builds the target. */
    public CdnPurgeTarget build() {
      if (provider == null) {
        throw new IllegalArgumentException("provider is required (fastly, cloudflare or akamai)");
      }
      String n = name == null ? "cdn-" + provider.label() : name;
      if (!NAME.matcher(n).matches()) {
        throw new IllegalArgumentException(
            "name must be 1-64 letters, digits, '.', '_' or '-', got '" + n + "'");
      }
      String base = endpoint(provider, endpoint);
      String lab = provider.label();
      if (provider == CdnProvider.AKAMAI) {
        if (akamai == null) {
          throw new IllegalArgumentException("akamai credentials are required for provider akamai");
        }
        if (token != null) {
          throw new IllegalArgumentException(
              "token is not used by provider akamai (it signs with the akamai credentials)");
        }
        if (service != null) {
          throw new IllegalArgumentException(
              "service is not used by provider akamai (set network instead)");
        }
        if (Boolean.FALSE.equals(softPurge)) {
          throw new IllegalArgumentException(
              "softPurge: provider akamai always invalidates (marks content stale); hard delete"
                  + " is not implemented");
        }
      } else {
        if (akamai != null) {
          throw new IllegalArgumentException(
              "akamai credentials are only for provider akamai, not " + lab);
        }
        if (network != null) {
          throw new IllegalArgumentException("network is only for provider akamai, not " + lab);
        }
        if (service == null || !SERVICE.matcher(service).matches()) {
          throw new IllegalArgumentException(
              "service ("
                  + (provider == CdnProvider.FASTLY ? "Fastly service id" : "Cloudflare zone id")
                  + ") is required: 1-64 letters, digits, '_' or '-'");
        }
        requireToken(token);
        if (provider == CdnProvider.CLOUDFLARE && Boolean.TRUE.equals(softPurge)) {
          throw new IllegalArgumentException(
              "softPurge: Cloudflare has no soft purge by tag; leave it false");
        }
      }
      String net = network == null ? DEFAULT_NETWORK : network;
      if (!net.equals("production") && !net.equals("staging")) {
        throw new IllegalArgumentException(
            "network must be production or staging, got '" + net + "'");
      }
      TagTemplate template =
          TagTemplate.parse(
              tagTemplate == null ? provider.defaultTagTemplate() : tagTemplate, provider);
      if (!(rateLimit > 0) || Double.isInfinite(rateLimit)) {
        throw new IllegalArgumentException("rateLimit must be a positive number, got " + rateLimit);
      }
      requireNonNegative("rateLimitWait", rateLimitWait);
      requirePositive("requestTimeout", requestTimeout);
      requirePositive("connectTimeout", connectTimeout);
      Objects.requireNonNull(clock, "clock");
      return new PurgeTarget(this, n, base, net, template);
    }

    static String endpoint(CdnProvider provider, String configured) {
      String e = configured == null ? provider.defaultEndpoint() : configured;
      if (e == null) {
        throw new IllegalArgumentException(
            "endpoint is required for provider "
                + provider.label()
                + ": the https://<host> of the API client");
      }
      URI uri;
      try {
        uri = new URI(e);
      } catch (URISyntaxException ex) {
        throw new IllegalArgumentException("endpoint is not a URL: " + ex.getMessage(), ex);
      }
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("https") && !scheme.equals("http")) {
        throw new IllegalArgumentException("endpoint must be an http(s) URL, got '" + e + "'");
      }
      if (uri.getHost() == null || uri.getRawQuery() != null || uri.getRawFragment() != null) {
        throw new IllegalArgumentException(
            "endpoint must be scheme://host[:port][/path] without query, got '" + e + "'");
      }
      return e.endsWith("/") ? e.substring(0, e.length() - 1) : e;
    }

    static void requireToken(String token) {
      if (token == null || token.isBlank()) {
        throw new IllegalArgumentException("token is required");
      }
      for (int i = 0; i < token.length(); i++) {
        char c = token.charAt(i);
        if (c < 0x20 || c == 0x7f) {
          throw new IllegalArgumentException("token contains a control character");
        }
      }
    }

    static void requirePositive(String setting, Duration d) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(setting + " must be a positive duration, got " + d);
      }
    }

    static void requireNonNegative(String setting, Duration d) {
      if (d == null || d.isNegative()) {
        throw new IllegalArgumentException(setting + " must be zero or positive, got " + d);
      }
    }

    @Override
    public String toString() {
      return "CdnPurgeTarget.Builder[provider="
          + provider
          + ", name="
          + name
          + ", endpoint="
          + endpoint
          + ", service="
          + service
          + ", network="
          + network
          + ", token="
          + Secrets.mask(token)
          + ", akamai="
          + akamai
          + ", tagTemplate="
          + tagTemplate
          + ", softPurge="
          + softPurge
          + ", rateLimit="
          + rateLimit
          + ", requestTimeout="
          + requestTimeout
          + "]";
    }
  }
}
