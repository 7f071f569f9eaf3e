package dev.invalidator.redis;

import java.util.Map;

/**
 * A snapshot of a stream and its consumer group, for {@code invalidator status} and the {@code
 * stream_pending} / {@code stream_lag_entries} gauges.
 *
 * @param stream the stream key
 * @param group the consumer group name
 * @param length entries in the stream ({@code XLEN}); 0 when the stream does not exist
 * @param groupExists false when the group has not been created yet
 * @param pending entries delivered to the group and not yet acknowledged
 * @param pendingPerConsumer pending entries per consumer name
 * @param oldestPendingId the smallest pending entry id, or null when nothing is pending; the stream
 *     must never be trimmed beyond it
 * @param lastDeliveredId the last id delivered to the group, or null
 * @param lag entries not yet delivered to the group: {@code XINFO GROUPS}'s {@code lag} on Redis
 *     7.0+, counted with {@code XRANGE} (at most 10,000) when Redis has no number for it (6.2, or
 *     7.x after deletions inside the undelivered range); -1 when the group is not found
 * @param consumers consumers known to the group
 */
public record StreamStats(
    String stream,
    String group,
    long length,
    boolean groupExists,
    long pending,
    Map<String, Long> pendingPerConsumer,
    String oldestPendingId,
    String lastDeliveredId,
    long lag,
    long consumers) {
  public StreamStats {
    pendingPerConsumer = Map.copyOf(pendingPerConsumer);
  }
}
