package dev.invalidator.server.observe;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.WorkerListener;
import java.time.Instant;
import java.util.List;

/** Fans worker callbacks out to several listeners. */
public final class Listeners {
  private Listeners() {}

  /** A listener that calls each of {@code listeners} in order. */
  public static WorkerListener all(WorkerListener... listeners) {
    List<WorkerListener> ls = List.of(listeners);
    return new WorkerListener() {
      @Override
      public void applied(
          String target,
          InvalidationEvent event,
          ApplyResult result,
          Instant committedAt,
          Instant appliedAt) {
        ls.forEach(l -> l.applied(target, event, result, committedAt, appliedAt));
      }

      @Override
      public void failed(String target, Delivery delivery, RuntimeException error) {
        ls.forEach(l -> l.failed(target, delivery, error));
      }

      @Override
      public void retried(Delivery delivery) {
        ls.forEach(l -> l.retried(delivery));
      }

      @Override
      public void circuitStateChanged(String target, String fromState, String toState) {
        ls.forEach(l -> l.circuitStateChanged(target, fromState, toState));
      }

      @Override
      public void deadLettered(DeadLetter deadLetter) {
        ls.forEach(l -> l.deadLettered(deadLetter));
      }

      @Override
      public void consumed(Delivery delivery, long lagMillis) {
        ls.forEach(l -> l.consumed(delivery, lagMillis));
      }

      @Override
      public void loopError(Throwable error) {
        ls.forEach(l -> l.loopError(error));
      }
    };
  }
}
