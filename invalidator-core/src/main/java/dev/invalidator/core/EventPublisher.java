package dev.invalidator.core;

import java.util.List;

/** Port: where the relay publishes committed outbox rows (a Redis stream, Kafka). */
public interface EventPublisher {
  /** A committed outbox row on its way to the transport. */
  record Outgoing(long outboxId, InvalidationEvent event) {}

  /**
   * Publishes every event durably before returning. Throws {@link InvalidatorException} if any
   * could not be published; the relay then rolls back and publishes the batch again later (a
   * duplicate for the ones that did go out, harmless by G4).
   */
  void publish(List<Outgoing> batch);

  /**
   * The name of where this publisher writes (the stream key), for the {@code
   * messaging.destination.name} of publish spans.
   */
  default String destination() {
    return "unknown";
  }
}
