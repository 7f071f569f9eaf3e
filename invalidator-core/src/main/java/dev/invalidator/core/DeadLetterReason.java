package dev.invalidator.core;

import java.util.Locale;

/**
 * Why an entry went to the dead letters. The lower-case name is what dead letters, metrics labels
 * and {@code invalidator dlq --reason} use.
 */
public enum DeadLetterReason {
  /** The entry has no event field or its event is not JSON: nothing can be made of it. */
  POISON,
  /** The encoded event or its payload is over {@link EventCodec#MAX_EVENT_BYTES}. */
  OVERSIZED,
  /** A field is missing or malformed (an identifier too long, a version that is not a number). */
  INVALID,
  /** The event type is well formed but not in {@code worker.eventTypes}. */
  UNKNOWN_EVENT_TYPE,
  /**
   * A view or tag carries a character that builds keys ({@code { } | :}): it tries to reach a key
   * outside the event's own tenant and aggregate.
   */
  TENANT_VIOLATION,
  /**
   * A target refused the event for good (a permanent {@link InvalidatorException}: a CDN's 4xx, a
   * tag the provider cannot hold): retrying cannot help, so it is kept at once.
   */
  REJECTED,
  /** A target failed the event on its last allowed delivery. */
  RETRIES_EXHAUSTED;

  /** The label form, such as {@code retries_exhausted}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses a label, case-insensitively. */
  public static DeadLetterReason fromLabel(String label) {
    return valueOf(label.trim().toUpperCase(Locale.ROOT));
  }

  /** Classifies a validation failure of an entry's event. */
  public static DeadLetterReason of(InvalidEventException ex) {
    String field = ex.field();
    String message = String.valueOf(ex.getMessage());
    if (message.contains("bytes; the limit is")) {
      return OVERSIZED;
    }
    if (field.equals("event")) {
      return POISON;
    }
    if (field.equals("event_type") && message.contains("not an allowed event type")) {
      return UNKNOWN_EVENT_TYPE;
    }
    if ((field.startsWith("payload.views") || field.startsWith("payload.tags"))
        && (message.contains("'{'")
            || message.contains("'}'")
            || message.contains("'|'")
            || message.contains("':'"))) {
      return TENANT_VIOLATION;
    }
    return INVALID;
  }
}
