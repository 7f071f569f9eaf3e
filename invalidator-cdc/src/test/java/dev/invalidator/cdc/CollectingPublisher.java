package dev.invalidator.cdc;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidatorException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/** The port under test, in memory: records every batch, fails on request. */
final class CollectingPublisher implements EventPublisher {
  private final List<List<Outgoing>> batches = new ArrayList<>();
  private final AtomicInteger failuresLeft = new AtomicInteger();
  private final AtomicInteger calls = new AtomicInteger();

  @Override
  public synchronized void publish(List<Outgoing> batch) {
    calls.incrementAndGet();
    if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      throw new InvalidatorException("injected publish failure", true);
    }
    batches.add(List.copyOf(batch));
  }

  /** Makes the next {@code n} calls throw. */
  void failNext(int n) {
    failuresLeft.set(n);
  }

  int calls() {
    return calls.get();
  }

  synchronized List<List<Outgoing>> batches() {
    return List.copyOf(batches);
  }

  synchronized List<Outgoing> published() {
    return batches.stream().flatMap(List::stream).toList();
  }

  List<UUID> eventIds() {
    return published().stream().map(o -> o.event().eventId()).toList();
  }
}
