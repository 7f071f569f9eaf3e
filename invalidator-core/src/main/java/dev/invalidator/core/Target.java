package dev.invalidator.core;

import java.util.List;

/**
 * Port: a cache tier that invalidation events are applied to. Implementations must be idempotent
 * and order-insensitive (G4): applying an event twice, or an older one after a newer one, changes
 * nothing.
 */
public interface Target {
  /** A short stable name, used in metrics labels and dead letters. */
  String name();

  /**
   * Applies a batch of events. Returns one result per event, in order. Throws {@link
   * InvalidatorException} only when the whole batch failed (the target is unreachable).
   */
  List<ApplyResult> apply(List<InvalidationEvent> events);
}
