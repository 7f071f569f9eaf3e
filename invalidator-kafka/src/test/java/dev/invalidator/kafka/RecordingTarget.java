package dev.invalidator.kafka;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.Target;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A target that records every event it applied, in order, and fails the events a predicate names (a
 * per-event, retryable failure: the record stays unacknowledged). It can hold its first apply until
 * released, to keep a worker busy in the middle of a batch.
 */
final class RecordingTarget implements Target {
  final List<InvalidationEvent> applied = new CopyOnWriteArrayList<>();
  volatile Predicate<InvalidationEvent> failing = e -> false;
  final CountDownLatch entered = new CountDownLatch(1);
  private volatile CountDownLatch hold;

  /** The first apply waits until {@link #release()}. */
  RecordingTarget holdFirstApply() {
    hold = new CountDownLatch(1);
    return this;
  }

  void release() {
    hold.countDown();
  }

  @Override
  public String name() {
    return "recording";
  }

  @Override
  public List<ApplyResult> apply(List<InvalidationEvent> events) {
    entered.countDown();
    CountDownLatch h = hold;
    if (h != null) {
      try {
        if (!h.await(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the test never released the target");
        }
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new InvalidatorException("interrupted", true, ex);
      }
      hold = null;
    }
    List<ApplyResult> out = new ArrayList<>(events.size());
    for (InvalidationEvent e : events) {
      if (failing.test(e)) {
        out.add(ApplyResult.failed(new InvalidatorException("refused " + e.eventId(), true)));
      } else {
        applied.add(e);
        out.add(ApplyResult.APPLIED);
      }
    }
    return out;
  }

  Set<UUID> appliedIds() {
    return applied.stream().map(InvalidationEvent::eventId).collect(Collectors.toSet());
  }
}
