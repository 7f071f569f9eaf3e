package dev.invalidator.http;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.TargetException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@link WebhookTarget}: signed POSTs, one per event, all of a batch in flight together. */
final class StandardWebhookTarget implements WebhookTarget {
  private static final Logger log = LoggerFactory.getLogger(StandardWebhookTarget.class);

  private final String name;
  private final URI url;
  private final byte[] key;
  private final WebhookCallback callback;
  private final Clock clock;
  private final HttpSender sender;

  StandardWebhookTarget(WebhookTarget.Builder b, byte[] key) {
    this.name = b.name;
    this.url = b.url;
    this.key = key;
    this.callback = b.callback;
    this.clock = b.clock;
    this.sender =
        callback != null
            ? null
            : new HttpSender(
                name,
                HttpClient.newBuilder()
                    .connectTimeout(b.connectTimeout)
                    .followRedirects(HttpClient.Redirect.NEVER)
                    .build(),
                new TokenBucket(b.rateLimit, b.clock),
                b.clock,
                b.requestTimeout,
                b.rateLimitWait,
                Duration.ofSeconds(1),
                false);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<ApplyResult> apply(List<InvalidationEvent> events) {
    if (events.isEmpty()) {
      return List.of();
    }
    return callback != null ? call(events) : post(events);
  }

  private List<ApplyResult> call(List<InvalidationEvent> events) {
    List<ApplyResult> out = new ArrayList<>(events.size());
    for (InvalidationEvent e : events) {
      try {
        callback.accept(e);
        out.add(ApplyResult.APPLIED);
      } catch (InvalidatorException ex) {
        out.add(
            ApplyResult.failed(
                failure(e, "callback failed: " + ex.getMessage(), ex.isRetryable(), ex)));
      } catch (RuntimeException ex) {
        out.add(ApplyResult.failed(failure(e, "callback failed: " + ex, true, ex)));
      }
    }
    return out;
  }

  private List<ApplyResult> post(List<InvalidationEvent> events) {
    List<HttpRequest> requests = new ArrayList<>(events.size());
    for (InvalidationEvent e : events) {
      requests.add(request(e));
    }
    List<Outcome> outcomes = sender.sendAll(requests);
    if (outcomes.stream().allMatch(o -> o.kind() == Outcome.Kind.UNREACHABLE)) {
      throw new InvalidatorException(
          "target " + name + " unreachable: " + outcomes.get(0).message(), true);
    }
    List<ApplyResult> out = new ArrayList<>(events.size());
    for (int i = 0; i < events.size(); i++) {
      Outcome o = outcomes.get(i);
      out.add(
          o.success()
              ? ApplyResult.APPLIED
              : ApplyResult.failed(failure(events.get(i), "webhook failed: " + o.message(), o)));
    }
    log.debug("target {}: posted {} events", name, events.size());
    return out;
  }

  /** The signed POST of one event. */
  HttpRequest request(InvalidationEvent e) {
    byte[] body = EventCodec.encode(e).getBytes(StandardCharsets.UTF_8);
    String id = webhookId(e);
    long timestamp = clock.instant().getEpochSecond();
    return HttpRequest.newBuilder(url)
        .timeout(sender.requestTimeout())
        .header("Content-Type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", Long.toString(timestamp))
        .header("webhook-signature", WebhookSignature.sign(key, id, timestamp, body))
        .POST(HttpRequest.BodyPublishers.ofByteArray(body))
        .build();
  }

  /** Stable per event and target, so a receiver can deduplicate redeliveries. */
  String webhookId(InvalidationEvent e) {
    return name + ":" + e.eventId();
  }

  private TargetException failure(
      InvalidationEvent e, String message, boolean retryable, Throwable cause) {
    return new TargetException(
        name, e.eventId().toString(), e.tenantId(), message, retryable, cause);
  }

  /** A failed request's exception; a provider's 429 carries the wait it advertised. */
  private TargetException failure(InvalidationEvent e, String message, Outcome o) {
    return new TargetException(
        name,
        e.eventId().toString(),
        e.tenantId(),
        message,
        o.retryable(),
        null,
        o.throttledByProvider() ? o.retryAfter() : null);
  }

  @Override
  public String toString() {
    return "WebhookTarget[name="
        + name
        + (callback != null
            ? ", callback"
            : ", url=" + sender.describe(url) + ", secret=" + Secrets.mask("set"))
        + "]";
  }
}
