package dev.invalidator.kafka;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.StreamEntry;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * The one encoding of a record on the topic: the key is {@code <tenant>:<aggregate type>:<aggregate
 * id>} (so one aggregate's events share a partition), the value is the stream entry's fields
 * ({@link StreamEntry#fields}) as one flat JSON object of strings, and the W3C trace context is
 * repeated in the {@code traceparent} / {@code tracestate} headers for Kafka tooling that
 * propagates context from headers.
 */
final class KafkaRecords {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private KafkaRecords() {}

  /** The record key of an event: its tenant and aggregate. */
  static String key(InvalidationEvent e) {
    return e.tenantId() + ":" + e.aggregate().type() + ":" + e.aggregate().id();
  }

  static byte[] encode(Map<String, String> fields) {
    ObjectNode n = MAPPER.createObjectNode();
    fields.forEach(n::put);
    return n.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The fields of a record value. A value that is not a flat JSON object of strings is handed on as
   * {@code {event: <the value as text>}}, so the worker's decoding fails on it and dead-letters it
   * as poison with the bytes it received, instead of the source dropping it.
   */
  static Map<String, String> decode(byte[] value, Headers headers) {
    Map<String, String> fields = fieldsOrNull(value);
    if (fields == null) {
      fields = new LinkedHashMap<>();
      if (value != null) {
        fields.put(StreamEntry.EVENT, new String(value, StandardCharsets.UTF_8));
      }
    }
    if (headers != null) {
      putHeaderIfAbsent(fields, headers, StreamEntry.TRACEPARENT);
      putHeaderIfAbsent(fields, headers, StreamEntry.TRACESTATE);
    }
    return fields;
  }

  private static Map<String, String> fieldsOrNull(byte[] value) {
    if (value == null) {
      return null;
    }
    JsonNode n;
    try {
      n = MAPPER.readTree(value);
    } catch (java.io.IOException ex) {
      return null; // not JSON: JsonProcessingException is an IOException
    }
    if (n == null || !n.isObject()) {
      return null;
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> f : n.properties()) {
      if (!f.getValue().isTextual()) {
        return null;
      }
      out.put(f.getKey(), f.getValue().asText());
    }
    return out;
  }

  private static void putHeaderIfAbsent(Map<String, String> fields, Headers headers, String name) {
    if (fields.containsKey(name)) {
      return;
    }
    Header h = headers.lastHeader(name);
    if (h != null && h.value() != null) {
      fields.put(name, new String(h.value(), StandardCharsets.UTF_8));
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
