package dev.invalidator.http;

import dev.invalidator.core.InvalidatorException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the requests of one batch for one target: each request waits for a token of the target's
 * {@link TokenBucket} (the batch's waits add up to {@code rateLimitWait} at most; a request that
 * gets no token in time is not sent), all are in flight together, and each ends within {@code
 * requestTimeout} as an {@link Outcome}. A 429 throttles the bucket for the time the provider
 * advertised ({@code Retry-After}, Cloudflare's {@code Ratelimit: ...;t=<seconds>}, Fastly's {@code
 * Fastly-RateLimit-Reset}), or {@code defaultRetryAfter} when it said nothing.
 *
 * <p>Nothing here logs a request header: they carry the credentials.
 */
final class HttpSender {
  private static final Logger log = LoggerFactory.getLogger(HttpSender.class);

  /** The longest advertised wait honoured; a longer one is taken as this. */
  static final Duration MAX_RETRY_AFTER = Duration.ofMinutes(10);

  private static final Pattern CLOUDFLARE_RESET = Pattern.compile("(?:^|;)\\s*t=(\\d{1,9})");

  private final String target;
  private final HttpClient client;
  private final TokenBucket bucket;
  private final Clock clock;
  private final Duration requestTimeout;
  private final Duration rateLimitWait;
  private final Duration defaultRetryAfter;
  private final boolean revealPath;

  /**
   * @param revealPath whether messages may show the request path (a CDN API path names only the
   *     service); a webhook URL's path may itself be a secret, so messages show its origin only
   */
  HttpSender(
      String target,
      HttpClient client,
      TokenBucket bucket,
      Clock clock,
      Duration requestTimeout,
      Duration rateLimitWait,
      Duration defaultRetryAfter,
      boolean revealPath) {
    this.target = target;
    this.client = client;
    this.bucket = bucket;
    this.clock = clock;
    this.requestTimeout = requestTimeout;
    this.rateLimitWait = rateLimitWait;
    this.defaultRetryAfter = defaultRetryAfter;
    this.revealPath = revealPath;
  }

  Duration requestTimeout() {
    return requestTimeout;
  }

  TokenBucket bucket() {
    return bucket;
  }

  /** Sends every request and returns one outcome per request, in order. */
  List<Outcome> sendAll(List<HttpRequest> requests) {
    List<CompletableFuture<Outcome>> inFlight = new ArrayList<>(requests.size());
    // One waiting budget for the whole batch, so a batch holds its worker thread for at most
    // rateLimitWait (waiting for tokens) plus requestTimeout (all requests are in flight together).
    long budget = rateLimitWait.toNanos();
    for (HttpRequest request : requests) {
      boolean token;
      try {
        long start = System.nanoTime();
        token = bucket.acquire(Duration.ofNanos(Math.max(0, budget)));
        budget -= System.nanoTime() - start;
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new InvalidatorException("target " + target + ": interrupted", true, ex);
      }
      if (!token) {
        Instant paused = bucket.pausedUntil();
        Duration wait =
            paused.isAfter(clock.instant())
                ? Duration.between(clock.instant(), paused)
                : Duration.ofMillis((long) Math.ceil(1000 / bucket.rate()));
        inFlight.add(
            CompletableFuture.completedFuture(
                new Outcome(
                    Outcome.Kind.RATE_LIMITED,
                    0,
                    "rate limit of target "
                        + target
                        + ": no request token within "
                        + rateLimitWait.toMillis()
                        + " ms; not sent, retry after "
                        + wait.toMillis()
                        + " ms",
                    wait,
                    "")));
        continue;
      }
      inFlight.add(
          client
              .sendAsync(request, HttpResponse.BodyHandlers.ofString())
              .handle((response, error) -> classify(request, response, error)));
    }
    List<Outcome> out = new ArrayList<>(inFlight.size());
    for (int i = 0; i < inFlight.size(); i++) {
      Outcome o = await(requests.get(i), inFlight.get(i));
      if (o.kind() == Outcome.Kind.RATE_LIMITED && o.status() == 429) {
        bucket.throttle(o.retryAfter());
        log.warn(
            "target {}: rate limited by the provider (HTTP 429), sending nothing for {} ms",
            target,
            o.retryAfter().toMillis());
      } else if (o.success()) {
        bucket.recover();
      }
      out.add(o);
    }
    return out;
  }

  /** The request's outcome; a response that has not come a second after its timeout counts too. */
  private Outcome await(HttpRequest request, CompletableFuture<Outcome> f) {
    try {
      return f.get(requestTimeout.toMillis() + 1_000, TimeUnit.MILLISECONDS);
    } catch (TimeoutException ex) {
      f.cancel(true);
      return unreachable(request, "no response within " + requestTimeout.toMillis() + " ms");
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      f.cancel(true);
      throw new InvalidatorException("target " + target + ": interrupted", true, ex);
    } catch (ExecutionException ex) {
      return unreachable(request, String.valueOf(ex.getCause()));
    }
  }

  private Outcome classify(HttpRequest request, HttpResponse<String> response, Throwable error) {
    if (error != null) {
      Throwable cause =
          error instanceof CompletionException && error.getCause() != null
              ? error.getCause()
              : error;
      String what;
      if (cause instanceof HttpConnectTimeoutException) {
        what = "connect timed out";
      } else if (cause instanceof HttpTimeoutException) {
        what = "no response within " + requestTimeout.toMillis() + " ms";
      } else if (cause instanceof IOException) {
        what = "I/O error: " + cause;
      } else {
        what = String.valueOf(cause);
      }
      return unreachable(request, what);
    }
    int status = response.statusCode();
    String body = Outcome.trim(response.body());
    String line = request.method() + " " + describe(request.uri()) + ": HTTP " + status;
    Outcome o;
    if (status >= 200 && status < 300) {
      o = new Outcome(Outcome.Kind.SUCCESS, status, line, Duration.ZERO, body);
    } else if (status == 429) {
      Duration wait = retryAfter(response).orElse(defaultRetryAfter);
      o =
          new Outcome(
              Outcome.Kind.RATE_LIMITED,
              status,
              line + " (rate limited, retry after " + wait.toSeconds() + " s): " + body,
              wait,
              body);
    } else if (status >= 500 || status == 408 || status == 425) {
      o = new Outcome(Outcome.Kind.RETRYABLE, status, line + ": " + body, Duration.ZERO, body);
    } else {
      o = new Outcome(Outcome.Kind.PERMANENT, status, line + ": " + body, Duration.ZERO, body);
    }
    log.debug("target {}: {}", target, line);
    return o;
  }

  private Outcome unreachable(HttpRequest request, String what) {
    String line = request.method() + " " + describe(request.uri()) + ": " + what;
    log.debug("target {}: {}", target, line);
    return new Outcome(Outcome.Kind.UNREACHABLE, 0, line, Duration.ZERO, "");
  }

  /** The request URI as messages show it: never user info or query, the path only if allowed. */
  String describe(URI uri) {
    String port = uri.getPort() < 0 ? "" : ":" + uri.getPort();
    return uri.getScheme()
        + "://"
        + uri.getHost()
        + port
        + (revealPath ? String.valueOf(uri.getRawPath()) : "/...");
  }

  /**
   * The wait a 429 response advertises: {@code Retry-After} (seconds or an HTTP date), else
   * Cloudflare's {@code Ratelimit} reset ({@code t=}), else Fastly's {@code Fastly-RateLimit-Reset}
   * (epoch seconds); capped at {@link #MAX_RETRY_AFTER}.
   */
  Optional<Duration> retryAfter(HttpResponse<?> response) {
    Instant now = clock.instant();
    Optional<Duration> d =
        response
            .headers()
            .firstValue("Retry-After")
            .flatMap(v -> parseRetryAfter(v.trim(), now))
            .or(
                () ->
                    response
                        .headers()
                        .firstValue("Ratelimit")
                        .flatMap(HttpSender::parseCloudflareReset))
            .or(
                () ->
                    response
                        .headers()
                        .firstValue("Fastly-RateLimit-Reset")
                        .flatMap(v -> parseEpochSeconds(v.trim(), now)));
    return d.map(x -> x.isNegative() ? Duration.ZERO : x)
        .map(x -> x.compareTo(MAX_RETRY_AFTER) > 0 ? MAX_RETRY_AFTER : x);
  }

  static Optional<Duration> parseRetryAfter(String value, Instant now) {
    if (value.matches("\\d{1,9}")) {
      return Optional.of(Duration.ofSeconds(Long.parseLong(value)));
    }
    try {
      Instant at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      return Optional.of(Duration.between(now, at));
    } catch (DateTimeParseException ex) {
      return Optional.empty();
    }
  }

  static Optional<Duration> parseCloudflareReset(String value) {
    Matcher m = CLOUDFLARE_RESET.matcher(value);
    return m.find()
        ? Optional.of(Duration.ofSeconds(Long.parseLong(m.group(1))))
        : Optional.empty();
  }

  private static Optional<Duration> parseEpochSeconds(String value, Instant now) {
    if (!value.matches("\\d{1,12}")) {
      return Optional.empty();
    }
    return Optional.of(Duration.between(now, Instant.ofEpochSecond(Long.parseLong(value))));
  }
}
