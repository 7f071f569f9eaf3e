package dev.invalidator.core;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * JSON form of events, as stored in the stream entry's {@code event} field and in dead letters.
 * Field names are those of the outbox table (snake case). Decoding validates everything and throws
 * {@link InvalidEventException} naming the field, so a poison entry can be dead-lettered with a
 * reason a person can act on.
 */
public final class EventCodec {
  /** Largest encoded event accepted, in bytes (64 KiB). */
  public static final int MAX_EVENT_BYTES = 64 * 1024;

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private EventCodec() {}

  public static String encode(InvalidationEvent e) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("event_id", e.eventId().toString());
    n.put("tenant_id", e.tenantId());
    n.put("aggregate_type", e.aggregate().type());
    n.put("aggregate_id", e.aggregate().id());
    n.put("aggregate_version", e.aggregateVersion());
    n.put("event_type", e.eventType());
    n.set("payload", payloadNode(e.payload()));
    if (e.trace().traceparent() != null) {
      n.put("traceparent", e.trace().traceparent());
    }
    if (e.trace().tracestate() != null) {
      n.put("tracestate", e.trace().tracestate());
    }
    if (e.createdAt() != null) {
      n.put("created_at", e.createdAt().toString());
    }
    String json = n.toString();
    checkSize("event", json);
    return json;
  }

  /** The payload as stored in the outbox's {@code payload} column. */
  public static String encodePayload(Payload p) {
    String json = payloadNode(p).toString();
    checkSize("payload", json);
    return json;
  }

  public static InvalidationEvent decode(String json) {
    if (json == null) {
      throw new InvalidEventException("event", "is missing");
    }
    checkSize("event", json);
    JsonNode n = parse("event", json);
    if (!n.isObject()) {
      throw new InvalidEventException("event", "is not a JSON object");
    }
    return InvalidationEvent.builder()
        .eventId(uuid(n))
        .tenant(text(n, "tenant_id", true))
        .aggregate(text(n, "aggregate_type", true), text(n, "aggregate_id", true))
        .version(version(n))
        .eventType(text(n, "event_type", true))
        .payload(decodePayloadNode(n.get("payload")))
        .trace(TraceContext.of(text(n, "traceparent", false), text(n, "tracestate", false)))
        .createdAt(instant(n))
        .build();
  }

  public static Payload decodePayload(String json) {
    if (json == null || json.isEmpty()) {
      return Payload.EMPTY;
    }
    checkSize("payload", json);
    return decodePayloadNode(parse("payload", json));
  }

  private static ObjectNode payloadNode(Payload p) {
    ObjectNode n = MAPPER.createObjectNode();
    if (!p.views().isEmpty()) {
      array(n.putArray("views"), p.views());
    }
    if (!p.tags().isEmpty()) {
      array(n.putArray("tags"), p.tags());
    }
    if (!p.cdnTags().isEmpty()) {
      array(n.putArray("cdn_tags"), p.cdnTags());
    }
    return n;
  }

  private static void array(ArrayNode a, List<String> items) {
    items.forEach(a::add);
  }

  private static Payload decodePayloadNode(JsonNode n) {
    if (n == null || n.isNull()) {
      return Payload.EMPTY;
    }
    if (!n.isObject()) {
      throw new InvalidEventException("payload", "is not a JSON object");
    }
    return new Payload(
        list(n, "views", "payload.views"),
        list(n, "tags", "payload.tags"),
        list(n, "cdn_tags", "payload.cdn_tags"));
  }

  private static List<String> list(JsonNode parent, String name, String field) {
    JsonNode n = parent.get(name);
    if (n == null || n.isNull()) {
      return List.of();
    }
    if (!n.isArray()) {
      throw new InvalidEventException(field, "is not an array of strings");
    }
    List<String> out = new ArrayList<>(n.size());
    for (JsonNode item : n) {
      if (!item.isTextual()) {
        throw new InvalidEventException(field, "contains a non-string item: " + item);
      }
      out.add(item.asText());
    }
    return out;
  }

  private static JsonNode parse(String field, String json) {
    try {
      return MAPPER.readTree(json);
    } catch (JsonProcessingException ex) {
      throw new InvalidEventException(field, "is not valid JSON: " + ex.getOriginalMessage());
    }
  }

  private static String text(JsonNode n, String name, boolean required) {
    JsonNode v = n.get(name);
    if (v == null || v.isNull()) {
      if (required) {
        throw new InvalidEventException(name, "is missing");
      }
      return null;
    }
    if (!v.isTextual()) {
      throw new InvalidEventException(name, "must be a string");
    }
    return v.asText();
  }

  private static UUID uuid(JsonNode n) {
    String s = text(n, "event_id", true);
    try {
      return UUID.fromString(s);
    } catch (IllegalArgumentException ex) {
      throw new InvalidEventException("event_id", "is not a UUID: " + s);
    }
  }

  private static long version(JsonNode n) {
    JsonNode v = n.get("aggregate_version");
    if (v == null || v.isNull()) {
      throw new InvalidEventException("aggregate_version", "is missing");
    }
    if (!v.canConvertToExactIntegral() || !v.canConvertToLong()) {
      throw new InvalidEventException("aggregate_version", "must be an integer, got " + v);
    }
    return v.asLong();
  }

  private static Instant instant(JsonNode n) {
    String s = text(n, "created_at", false);
    if (s == null) {
      return null;
    }
    try {
      return Instant.parse(s);
    } catch (DateTimeParseException ex) {
      throw new InvalidEventException("created_at", "is not an ISO-8601 instant: " + s);
    }
  }

  private static void checkSize(String field, String json) {
    int bytes = json.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_EVENT_BYTES) {
      throw new InvalidEventException(
          field, "is " + bytes + " bytes; the limit is " + MAX_EVENT_BYTES);
    }
  }
}
