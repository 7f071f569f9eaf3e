package dev.invalidator.core;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
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
  private static final JsonFactory FACTORY = MAPPER.getFactory();

  private EventCodec() {}

  public static String encode(InvalidationEvent e) {
    // Written with the streaming generator, field by field: the tree model this replaced was the
    // largest CPU cost of the relay (JFR, relay drain: 42% of the relay threads' samples were the
    // stream entry's encoding). The text is the same, key for key, as before.
    StringWriter w = new StringWriter(256);
    try (JsonGenerator g = FACTORY.createGenerator(w)) {
      g.writeStartObject();
      g.writeStringField("event_id", e.eventId().toString());
      g.writeStringField("tenant_id", e.tenantId());
      g.writeStringField("aggregate_type", e.aggregate().type());
      g.writeStringField("aggregate_id", e.aggregate().id());
      g.writeNumberField("aggregate_version", e.aggregateVersion());
      g.writeStringField("event_type", e.eventType());
      g.writeFieldName("payload");
      writePayload(g, e.payload());
      if (e.trace().traceparent() != null) {
        g.writeStringField("traceparent", e.trace().traceparent());
      }
      if (e.trace().tracestate() != null) {
        g.writeStringField("tracestate", e.trace().tracestate());
      }
      if (e.createdAt() != null) {
        g.writeStringField("created_at", IsoInstants.format(e.createdAt()));
      }
      g.writeEndObject();
    } catch (IOException ex) {
      throw new UncheckedIOException("encoding event " + e.eventId(), ex);
    }
    String json = w.toString();
    checkSize("event", json);
    return json;
  }

  /** The payload as stored in the outbox's {@code payload} column. */
  public static String encodePayload(Payload p) {
    StringWriter w = new StringWriter(64);
    try (JsonGenerator g = FACTORY.createGenerator(w)) {
      writePayload(g, p);
    } catch (IOException ex) {
      throw new UncheckedIOException("encoding a payload", ex);
    }
    String json = w.toString();
    checkSize("payload", json);
    return json;
  }

  private static void writePayload(JsonGenerator g, Payload p) throws IOException {
    g.writeStartObject();
    writeList(g, "views", p.views());
    writeList(g, "tags", p.tags());
    writeList(g, "cdn_tags", p.cdnTags());
    g.writeEndObject();
  }

  private static void writeList(JsonGenerator g, String name, List<String> items)
      throws IOException {
    if (items.isEmpty()) {
      return;
    }
    g.writeArrayFieldStart(name);
    for (String item : items) {
      g.writeString(item);
    }
    g.writeEndArray();
  }

  public static InvalidationEvent decode(String json) {
    if (json == null) {
      throw new InvalidEventException("event", "is missing");
    }
    checkSize("event", json);
    // The streaming fast path takes well-formed events (every event the relay writes); anything
    // it does not expect sends the text through the tree decoder below, which is the reference:
    // it decides every error and its message, so both paths accept and refuse the same texts.
    InvalidationEvent fast = FastDecoder.event(json);
    return fast != null ? fast : decodeTree(json);
  }

  /** The reference decoder; package-private for the test that compares both paths. */
  static InvalidationEvent decodeTree(String json) {
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
    Payload fast = FastDecoder.payload(json);
    return fast != null ? fast : decodePayloadNode(parse("payload", json));
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
      return IsoInstants.parse(s);
    } catch (DateTimeParseException ex) {
      throw new InvalidEventException("created_at", "is not an ISO-8601 instant: " + s);
    }
  }

  private static void checkSize(String field, String json) {
    // A UTF-16 char takes at most 3 bytes in UTF-8 (a surrogate pair, 2 chars, takes 4): a short
    // text needs no counting.
    if (json.length() <= MAX_EVENT_BYTES / 3) {
      return;
    }
    long bytes = utf8Length(json);
    if (bytes > MAX_EVENT_BYTES) {
      throw new InvalidEventException(
          field, "is " + bytes + " bytes; the limit is " + MAX_EVENT_BYTES);
    }
  }

  private static long utf8Length(String s) {
    long bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }

  /**
   * The streaming decoder of well-formed texts. Each method returns null for anything it does not
   * expect (a missing or null required field, a wrong type, invalid JSON, a value a constructor
   * refuses), and the caller then decodes the same text with the tree decoder, which names the
   * problem.
   */
  private static final class FastDecoder {
    private FastDecoder() {}

    static InvalidationEvent event(String json) {
      try (JsonParser p = FACTORY.createParser(json)) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
          return null;
        }
        String eventId = null;
        String tenant = null;
        String type = null;
        String id = null;
        long version = -1;
        boolean versionSeen = false;
        String eventType = null;
        Payload payload = Payload.EMPTY;
        String traceparent = null;
        String tracestate = null;
        String createdAt = null;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          JsonToken v = p.nextToken();
          switch (name) {
            case "event_id" -> eventId = requiredText(p, v);
            case "tenant_id" -> tenant = requiredText(p, v);
            case "aggregate_type" -> type = requiredText(p, v);
            case "aggregate_id" -> id = requiredText(p, v);
            case "event_type" -> eventType = requiredText(p, v);
            case "aggregate_version" -> {
              if (v != JsonToken.VALUE_NUMBER_INT
                  || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                return null;
              }
              version = p.getLongValue();
              versionSeen = true;
            }
            case "payload" -> {
              payload = v == JsonToken.VALUE_NULL ? Payload.EMPTY : payloadObject(p, v);
              if (payload == null) {
                return null;
              }
            }
            case "traceparent" -> traceparent = optionalText(p, v);
            case "tracestate" -> tracestate = optionalText(p, v);
            case "created_at" -> createdAt = optionalText(p, v);
            default -> p.skipChildren();
          }
          if (v == JsonToken.VALUE_NULL && REQUIRED.contains(name)) {
            return null;
          }
          if (v == JsonToken.VALUE_STRING || v == JsonToken.VALUE_NULL || !TEXTUAL.contains(name)) {
            continue;
          }
          return null; // a textual field with a non-string value
        }
        if (t != JsonToken.END_OBJECT
            || eventId == null
            || tenant == null
            || type == null
            || id == null
            || eventType == null
            || !versionSeen) {
          return null;
        }
        return InvalidationEvent.builder()
            .eventId(UUID.fromString(eventId))
            .tenant(tenant)
            .aggregate(type, id)
            .version(version)
            .eventType(eventType)
            .payload(payload)
            .trace(TraceContext.of(traceparent, tracestate))
            .createdAt(createdAt == null ? null : IsoInstants.parse(createdAt))
            .build();
      } catch (IOException | RuntimeException ex) {
        return null; // the tree decoder names the problem
      }
    }

    static Payload payload(String json) {
      try (JsonParser p = FACTORY.createParser(json)) {
        return payloadObject(p, p.nextToken());
      } catch (IOException | RuntimeException ex) {
        return null;
      }
    }

    private static Payload payloadObject(JsonParser p, JsonToken start) throws IOException {
      if (start != JsonToken.START_OBJECT) {
        return null;
      }
      List<String> views = List.of();
      List<String> tags = List.of();
      List<String> cdnTags = List.of();
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken v = p.nextToken();
        switch (name) {
          case "views" -> views = strings(p, v);
          case "tags" -> tags = strings(p, v);
          case "cdn_tags" -> cdnTags = strings(p, v);
          default -> {
            p.skipChildren();
            continue;
          }
        }
        if (views == null || tags == null || cdnTags == null) {
          return null;
        }
      }
      if (p.currentToken() != JsonToken.END_OBJECT) {
        return null;
      }
      return new Payload(views, tags, cdnTags);
    }

    private static List<String> strings(JsonParser p, JsonToken v) throws IOException {
      if (v == JsonToken.VALUE_NULL) {
        return List.of();
      }
      if (v != JsonToken.START_ARRAY) {
        return null;
      }
      List<String> out = new ArrayList<>(4);
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.VALUE_STRING) {
        out.add(p.getText());
      }
      return t == JsonToken.END_ARRAY ? out : null;
    }

    private static String requiredText(JsonParser p, JsonToken v) throws IOException {
      return v == JsonToken.VALUE_STRING ? p.getText() : null;
    }

    private static String optionalText(JsonParser p, JsonToken v) throws IOException {
      if (v != JsonToken.VALUE_STRING) {
        p.skipChildren();
        return null;
      }
      return p.getText();
    }
  }

  private static final java.util.Set<String> REQUIRED =
      java.util.Set.of("event_id", "tenant_id", "aggregate_type", "aggregate_id", "event_type");

  private static final java.util.Set<String> TEXTUAL =
      java.util.Set.of(
          "event_id",
          "tenant_id",
          "aggregate_type",
          "aggregate_id",
          "event_type",
          "traceparent",
          "tracestate",
          "created_at");
}
