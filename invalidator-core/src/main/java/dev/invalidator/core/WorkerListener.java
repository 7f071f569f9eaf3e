package dev.invalidator.core;

import java.time.Instant;

/**
 * Callbacks from the worker loop, for metrics and the demo's figures. Every method has an empty
 * default; implementations must be fast and must not throw.
 */
public interface WorkerListener {
  WorkerListener NONE = new WorkerListener() {};

  /**
   * An event was applied to a target.
   *
   * @param committedAt the commit time carried by the entry, or null
   * @param appliedAt when the target confirmed the apply
   */
  default void applied(
      String target,
      InvalidationEvent event,
      ApplyResult result,
      Instant committedAt,
      Instant appliedAt) {}

  /** An event failed on a target and stays pending for another delivery. */
  default void failed(String target, Delivery delivery, RuntimeException error) {}

  /** An entry went to the dead letters. */
  default void deadLettered(DeadLetter deadLetter) {}

  /** An entry was consumed {@code lagMillis} after it was published. */
  default void consumed(Delivery delivery, long lagMillis) {}

  /**
   * A failed entry was taken back for another delivery after its backoff; feeds {@code
   * invalidator_retries_total}.
   */
  default void retried(Delivery delivery) {}

  /**
   * The circuit breaker of a target changed state ({@code CLOSED}, {@code OPEN}, {@code HALF_OPEN},
   * ...); feeds {@code invalidator_circuit_breaker_state}.
   */
  default void circuitStateChanged(String target, String fromState, String toState) {}

  /** The loop caught an unexpected error and will back off. */
  default void loopError(Throwable error) {}
}
