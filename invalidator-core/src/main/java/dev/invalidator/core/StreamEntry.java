package dev.invalidator.core;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The fields of one stream entry, as written by the relay and read by workers. The event travels as
 * JSON; commit time and trace context are also top-level fields so that lag can be measured and a
 * span started without decoding the event.
 */
public final class StreamEntry {
  public static final String EVENT = "event";
  public static final String OUTBOX_ID = "outbox_id";
  public static final String COMMITTED_AT_MS = "committed_at_ms";
  public static final String PUBLISHED_AT_MS = "published_at_ms";
  public static final String TRACEPARENT = "traceparent";
  public static final String TRACESTATE = "tracestate";

  private StreamEntry() {}

  /**
   * Fields for a relayed outbox row.
   *
   * @param committedAt the row's {@code created_at}: written inside the committing transaction, so
   *     it is at most the transaction's length before the commit
   */
  public static Map<String, String> fields(
      long outboxId, InvalidationEvent event, Instant committedAt, Instant publishedAt) {
    Map<String, String> f = new LinkedHashMap<>();
    f.put(EVENT, EventCodec.encode(event));
    f.put(OUTBOX_ID, Long.toString(outboxId));
    if (committedAt != null) {
      f.put(COMMITTED_AT_MS, Long.toString(committedAt.toEpochMilli()));
    }
    f.put(PUBLISHED_AT_MS, Long.toString(publishedAt.toEpochMilli()));
    if (event.trace().traceparent() != null) {
      f.put(TRACEPARENT, event.trace().traceparent());
    }
    if (event.trace().tracestate() != null) {
      f.put(TRACESTATE, event.trace().tracestate());
    }
    return f;
  }

  /** Decodes and validates the event of an entry; throws {@link InvalidEventException}. */
  public static InvalidationEvent event(Map<String, String> fields) {
    return EventCodec.decode(fields.get(EVENT));
  }

  /** The commit time carried by the entry, or null when absent or malformed. */
  public static Instant committedAt(Map<String, String> fields) {
    return millis(fields.get(COMMITTED_AT_MS));
  }

  /** The publish time carried by the entry, or null when absent or malformed. */
  public static Instant publishedAt(Map<String, String> fields) {
    return millis(fields.get(PUBLISHED_AT_MS));
  }

  private static Instant millis(String s) {
    if (s == null) {
      return null;
    }
    try {
      return Instant.ofEpochMilli(Long.parseLong(s));
    } catch (NumberFormatException ex) {
      return null;
    }
  }
}
