package dev.invalidator.http;

import dev.invalidator.core.Target;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * A {@link Target} that projects each event elsewhere: a POST of the event as JSON (the stream
 * entry's encoding, {@code EventCodec}) to a URL, signed per Standard Webhooks, or a call of an
 * in-process {@link WebhookCallback}.
 *
 * <p>Headers of each POST: {@code webhook-id: <target name>:<event id>} (stable across
 * redeliveries, the receiver's idempotency key), {@code webhook-timestamp} (Unix seconds) and
 * {@code webhook-signature: v1,<base64(HMAC-SHA256(key, id.timestamp.body))>}, the key being the
 * base64 part of the {@code whsec_} secret.
 *
 * <p>Failures are classified like the CDN target's: 429 throttles and is retryable, 5xx/408/425
 * retryable, other 4xx permanent with the receiver's body; a batch none of whose requests got a
 * response throws a retryable exception (the receiver is down). A webhook is not version-gated:
 * wrap it in the Redis {@code IdempotentTarget} so that a redelivered event is not sent twice.
 *
 * <pre>{@code
 * Target hook = WebhookTarget.builder()
 *     .name("search-projection")
 *     .url("https://search.internal/hooks/invalidation")
 *     .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
 *     .build();
 * }</pre>
 */
public interface WebhookTarget extends Target {
  /** A builder; {@link Builder#build()} validates every setting. */
  static Builder builder() {
    return new Builder();
  }

  /** Settings of a {@link WebhookTarget}; the secret never shows in toString. */
  final class Builder {
    /** Default time a POST may take until its response. */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(5);

    /** Default time to open a connection. */
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);

    /** Default POSTs per second. */
    public static final double DEFAULT_RATE_LIMIT = 50;

    /** Default longest wait of a batch for a request token before its events fail retryably. */
    public static final Duration DEFAULT_RATE_LIMIT_WAIT = Duration.ofSeconds(1);

    String name;
    URI url;
    String rawUrl;
    String secret;
    WebhookCallback callback;
    double rateLimit = DEFAULT_RATE_LIMIT;
    Duration rateLimitWait = DEFAULT_RATE_LIMIT_WAIT;
    Duration requestTimeout = DEFAULT_REQUEST_TIMEOUT;
    Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    Clock clock = Clock.systemUTC();

    Builder() {}

    /** Required: the target's name in metrics, dead letters and {@code webhook-id}. */
    public Builder name(String name) {
      this.name = name;
      return this;
    }

    /** The receiver's http(s) URL; either this (with a secret) or a callback. */
    public Builder url(String url) {
      this.rawUrl = url;
      return this;
    }

    /** The signing secret, {@code whsec_<base64 of 24 to 64 bytes>}; required with a URL. */
    public Builder secret(String secret) {
      this.secret = secret;
      return this;
    }

    /** An in-process hook instead of a URL. */
    public Builder callback(WebhookCallback callback) {
      this.callback = callback;
      return this;
    }

    /** POSTs per second at most; default 50. */
    public Builder rateLimit(double requestsPerSecond) {
      this.rateLimit = requestsPerSecond;
      return this;
    }

    /** How long a batch waits for a request token before its events fail as retryable. */
    public Builder rateLimitWait(Duration wait) {
      this.rateLimitWait = wait;
      return this;
    }

    /** How long a POST may take until its response; default 5 s. */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = timeout;
      return this;
    }

    /** How long opening a connection may take; default 2 s. */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = timeout;
      return this;
    }

    /** The clock of {@code webhook-timestamp} and the rate limiter. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Validates every setting and builds the target. */
    public WebhookTarget build() {
      if (name == null || !CdnPurgeTarget.Builder.NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(
            "name is required: 1-64 letters, digits, '.', '_' or '-', got '" + name + "'");
      }
      if ((rawUrl == null) == (callback == null)) {
        throw new IllegalArgumentException("set exactly one of url and callback");
      }
      Objects.requireNonNull(clock, "clock");
      if (callback != null) {
        if (secret != null) {
          throw new IllegalArgumentException("secret is only used with a url, not a callback");
        }
        return new StandardWebhookTarget(this, null);
      }
      try {
        url = new URI(rawUrl);
      } catch (URISyntaxException ex) {
        throw new IllegalArgumentException("url is not a URL: " + ex.getMessage(), ex);
      }
      String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(Locale.ROOT);
      if ((!scheme.equals("https") && !scheme.equals("http")) || url.getHost() == null) {
        throw new IllegalArgumentException("url must be an http(s) URL, got '" + rawUrl + "'");
      }
      byte[] key = WebhookSignature.key(secret);
      if (!(rateLimit > 0) || Double.isInfinite(rateLimit)) {
        throw new IllegalArgumentException("rateLimit must be a positive number, got " + rateLimit);
      }
      CdnPurgeTarget.Builder.requireNonNegative("rateLimitWait", rateLimitWait);
      CdnPurgeTarget.Builder.requirePositive("requestTimeout", requestTimeout);
      CdnPurgeTarget.Builder.requirePositive("connectTimeout", connectTimeout);
      return new StandardWebhookTarget(this, key);
    }

    @Override
    public String toString() {
      return "WebhookTarget.Builder[name="
          + name
          + ", url="
          + (rawUrl == null ? null : "<set>")
          + ", secret="
          + Secrets.mask(secret)
          + ", callback="
          + (callback != null)
          + ", rateLimit="
          + rateLimit
          + ", requestTimeout="
          + requestTimeout
          + "]";
    }
  }
}
