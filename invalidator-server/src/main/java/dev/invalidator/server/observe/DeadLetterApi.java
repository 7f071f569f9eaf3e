package dev.invalidator.server.observe;

import java.util.List;
import java.util.Map;

/**
 * The dead-letter operations the admin HTTP server serves ({@code /api/dlq}), whatever holds the
 * dead letters: the Redis stream ({@link DeadLetterAdmin}) or the Kafka topic {@code <topic>-dlt}.
 */
public interface DeadLetterApi {
  /**
   * The oldest {@code max} dead letters, each {@code {"id": ..., "fields": {...}}} with the field
   * names of the Redis dead-letter stream ({@code reason}, {@code last_error}, {@code orig.*} ...).
   */
  List<Map<String, Object>> list(int max);

  /**
   * Puts the original entry back on the transport, then removes the dead letter; returns where the
   * original went, or null when there is no such dead letter.
   *
   * @throws IllegalArgumentException when {@code id} is not an id of this transport
   */
  String redrive(String id);

  /**
   * Removes a dead letter without redriving it; false when there is none.
   *
   * @throws IllegalArgumentException when {@code id} is not an id of this transport
   */
  boolean drop(String id);
}
