package dev.invalidator.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.TargetException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@link CdnPurgeTarget} of every provider; the providers differ only in {@link #request}. */
final class PurgeTarget implements CdnPurgeTarget {
  private static final Logger log = LoggerFactory.getLogger(PurgeTarget.class);
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** Akamai refuses purge bodies over 50,000 bytes (HTTP 413). */
  static final int AKAMAI_MAX_BODY_BYTES = 50_000;

  /** Akamai's 429 page says to wait five seconds; the others say nothing without a header. */
  private static final Duration AKAMAI_RETRY_AFTER = Duration.ofSeconds(5);

  private static final Duration DEFAULT_RETRY_AFTER = Duration.ofSeconds(1);

  private final String name;
  private final CdnProvider provider;
  private final String endpoint;
  private final String service;
  private final String network;
  private final String token;
  private final EdgeGridSigner signer;
  private final TagTemplate template;
  private final boolean softPurge;
  private final Clock clock;
  private final HttpSender sender;

  PurgeTarget(
      CdnPurgeTarget.Builder b, String name, String endpoint, String network, TagTemplate t) {
    this.name = name;
    this.provider = b.provider;
    this.endpoint = endpoint;
    this.service = b.service;
    this.network = network;
    this.token = b.token;
    this.signer = b.akamai == null ? null : new EdgeGridSigner(b.akamai);
    this.template = t;
    this.softPurge = provider == CdnProvider.AKAMAI || Boolean.TRUE.equals(b.softPurge);
    this.clock = b.clock;
    HttpClient client =
        HttpClient.newBuilder()
            .connectTimeout(b.connectTimeout)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
    this.sender =
        new HttpSender(
            name,
            client,
            new TokenBucket(b.rateLimit, b.clock),
            b.clock,
            b.requestTimeout,
            b.rateLimitWait,
            provider == CdnProvider.AKAMAI ? AKAMAI_RETRY_AFTER : DEFAULT_RETRY_AFTER,
            true);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public CdnProvider provider() {
    return provider;
  }

  TokenBucket bucket() {
    return sender.bucket();
  }

  @Override
  public List<ApplyResult> apply(List<InvalidationEvent> events) {
    ApplyResult[] out = new ApplyResult[events.size()];
    // Rendered tag -> the events that asked for it, in first-seen order.
    Map<String, List<Integer>> tagEvents = new LinkedHashMap<>();
    for (int i = 0; i < events.size(); i++) {
      InvalidationEvent e = events.get(i);
      List<String> rendered;
      try {
        rendered = render(e);
      } catch (InvalidEventException ex) {
        log.debug("target {}: event {} refused: {}", name, e.eventId(), ex.getMessage());
        out[i] = ApplyResult.failed(failure(e, ex.getMessage(), false, ex));
        continue;
      }
      if (rendered.isEmpty()) {
        out[i] = ApplyResult.STALE_SKIPPED; // no cdn_tags: nothing for this target to do
        continue;
      }
      for (String tag : rendered) {
        tagEvents.computeIfAbsent(tag, k -> new ArrayList<>(1)).add(i);
      }
    }
    if (tagEvents.isEmpty()) {
      return List.of(out);
    }
    List<List<String>> chunks = chunks(new ArrayList<>(tagEvents.keySet()));
    List<HttpRequest> requests = new ArrayList<>(chunks.size());
    for (List<String> chunk : chunks) {
      requests.add(request(chunk));
    }
    List<Outcome> outcomes = sender.sendAll(requests);
    boolean unreachable = true;
    Outcome[] worst = new Outcome[events.size()];
    for (int j = 0; j < chunks.size(); j++) {
      Outcome o = checkBody(outcomes.get(j));
      unreachable &= o.kind() == Outcome.Kind.UNREACHABLE;
      if (o.success()) {
        continue;
      }
      for (String tag : chunks.get(j)) {
        for (int i : tagEvents.get(tag)) {
          worst[i] = Outcome.worse(worst[i], o);
        }
      }
    }
    if (unreachable) {
      throw new InvalidatorException(
          "target " + name + " unreachable: " + outcomes.get(0).message(), true);
    }
    for (int i = 0; i < events.size(); i++) {
      if (out[i] != null) {
        continue;
      }
      Outcome o = worst[i];
      out[i] =
          o == null
              ? ApplyResult.APPLIED
              : ApplyResult.failed(
                  failure(events.get(i), provider.label() + " purge failed: " + o.message(), o));
    }
    log.debug(
        "target {}: {} tags of {} events in {} requests",
        name,
        tagEvents.size(),
        events.size(),
        requests.size());
    return List.of(out);
  }

  /** The event's tags rendered for its tenant, deduplicated, in order. */
  List<String> render(InvalidationEvent e) {
    List<String> tags = e.payload().cdnTags();
    List<String> out = new ArrayList<>(tags.size());
    for (int k = 0; k < tags.size(); k++) {
      String r = template.render(e.tenantId(), tags.get(k), "payload.cdn_tags[" + k + "]");
      if (!out.contains(r)) {
        out.add(r);
      }
    }
    return out;
  }

  /** Splits tags into requests within the provider's limits. */
  List<List<String>> chunks(List<String> tags) {
    List<List<String>> out = new ArrayList<>();
    List<String> current = new ArrayList<>();
    int bytes = 0;
    for (String tag : tags) {
      // Akamai bounds the JSON body: {"objects":["a","b"]} is 13 bytes plus 3 per tag (ASCII).
      int size = tag.length() + 3;
      boolean full =
          current.size() == provider.maxTagsPerRequest()
              || (provider == CdnProvider.AKAMAI && 13 + bytes + size > AKAMAI_MAX_BODY_BYTES);
      if (full && !current.isEmpty()) {
        out.add(current);
        current = new ArrayList<>();
        bytes = 0;
      }
      current.add(tag);
      bytes += size;
    }
    if (!current.isEmpty()) {
      out.add(current);
    }
    return out;
  }

  /** The provider's purge request for {@code tags}, exactly in its documented shape. */
  HttpRequest request(List<String> tags) {
    HttpRequest.Builder r =
        HttpRequest.newBuilder()
            .timeout(sender.requestTimeout())
            .header("Accept", "application/json");
    switch (provider) {
      case FASTLY:
        r.uri(URI.create(endpoint + "/service/" + service + "/purge"))
            .header("Fastly-Key", token)
            .header("Surrogate-Key", String.join(" ", tags))
            .POST(HttpRequest.BodyPublishers.noBody());
        if (softPurge) {
          r.header("Fastly-Soft-Purge", "1");
        }
        return r.build();
      case CLOUDFLARE:
        {
          byte[] body = json("tags", tags);
          return r.uri(URI.create(endpoint + "/zones/" + service + "/purge_cache"))
              .header("Authorization", "Bearer " + token)
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofByteArray(body))
              .build();
        }
      case AKAMAI:
        {
          byte[] body = json("objects", tags);
          URI uri = URI.create(endpoint + "/ccu/v3/invalidate/tag/" + network);
          String auth =
              signer.authorization(
                  "POST",
                  uri,
                  body,
                  EdgeGridSigner.timestamp(clock.instant()),
                  UUID.randomUUID().toString());
          return r.uri(uri)
              .header("Authorization", auth)
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofByteArray(body))
              .build();
        }
      default:
        throw new AssertionError(provider);
    }
  }

  /** Cloudflare may answer 200 with {@code "success": false}: that is a permanent failure. */
  private Outcome checkBody(Outcome o) {
    if (provider != CdnProvider.CLOUDFLARE || !o.success()) {
      return o;
    }
    try {
      JsonNode n = MAPPER.readTree(o.body());
      if (n != null && n.path("success").isBoolean() && !n.path("success").asBoolean()) {
        return new Outcome(
            Outcome.Kind.PERMANENT,
            o.status(),
            o.message() + " but success=false: " + Outcome.trim(n.path("errors").toString()),
            Duration.ZERO,
            o.body());
      }
    } catch (IOException ex) {
      log.debug("target {}: 2xx body is not JSON; taken as success", name);
    }
    return o;
  }

  private static byte[] json(String field, List<String> tags) {
    ObjectNode root = MAPPER.createObjectNode();
    ArrayNode a = root.putArray(field);
    tags.forEach(a::add);
    try {
      return MAPPER.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
    } catch (IOException ex) {
      throw new IllegalStateException(ex);
    }
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
    return "CdnPurgeTarget[name="
        + name
        + ", provider="
        + provider.label()
        + ", endpoint="
        + endpoint
        + (provider == CdnProvider.AKAMAI ? ", network=" + network : ", service=" + service)
        + ", token="
        + Secrets.mask(provider == CdnProvider.AKAMAI ? "akamai" : token)
        + ", tagTemplate="
        + template.template()
        + ", softPurge="
        + softPurge
        + "]";
  }
}
