package dev.invalidator.server.observe;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/** The figures of {@code invalidator status}, shared with {@code /api/status}. */
public final class StatusFigures {
  private StatusFigures() {}

  /** The figures, in the order {@code invalidator status} prints them. */
  public static Map<String, Object> of(
      long outboxPending,
      Duration outboxOldestAge,
      String stream,
      long streamLength,
      String group,
      long streamPending,
      long streamLag,
      Map<String, Long> pendingByConsumer,
      long dlqDepth) {
    Map<String, Object> status = new LinkedHashMap<>();
    status.put("outbox_pending", outboxPending);
    status.put("outbox_oldest_age_seconds", outboxOldestAge.toMillis() / 1000.0);
    status.put("stream", stream);
    status.put("stream_length", streamLength);
    status.put("group", group);
    status.put("stream_pending", streamPending);
    status.put("stream_lag_entries", streamLag);
    status.put("pending_by_consumer", pendingByConsumer);
    status.put("dlq_depth", dlqDepth);
    return status;
  }
}
