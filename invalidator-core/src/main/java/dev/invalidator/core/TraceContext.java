package dev.invalidator.core;

import java.util.regex.Pattern;

/**
 * W3C trace context carried from the writer's transaction through the outbox row and the stream
 * entry to the worker. Both parts are optional; a malformed {@code traceparent} is refused.
 */
public record TraceContext(String traceparent, String tracestate) {
  /** No trace context. */
  public static final TraceContext NONE = new TraceContext(null, null);

  private static final Pattern TRACEPARENT =
      Pattern.compile("[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}");

  public TraceContext {
    if (traceparent != null && !TRACEPARENT.matcher(traceparent).matches()) {
      throw new InvalidEventException(
          "traceparent", "is not a W3C traceparent (version-traceid-spanid-flags)");
    }
    if (tracestate != null && tracestate.length() > 512) {
      throw new InvalidEventException("tracestate", "is longer than 512 characters");
    }
  }

  public static TraceContext of(String traceparent, String tracestate) {
    return traceparent == null && tracestate == null
        ? NONE
        : new TraceContext(traceparent, tracestate);
  }

  public boolean isPresent() {
    return traceparent != null;
  }
}
