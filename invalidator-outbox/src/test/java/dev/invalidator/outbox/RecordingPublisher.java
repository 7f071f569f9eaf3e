package dev.invalidator.outbox;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidatorException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/** A test double of our own port: records what was published, fails on request. */
final class RecordingPublisher implements EventPublisher {
  private final List<Outgoing> published = new ArrayList<>();
  private final AtomicInteger failuresLeft = new AtomicInteger();
  private final AtomicInteger calls = new AtomicInteger();
  private final List<Integer> sizes = new ArrayList<>();

  @Override
  public void publish(List<Outgoing> batch) {
    calls.incrementAndGet();
    synchronized (sizes) {
      sizes.add(batch.size());
    }
    if (failuresLeft.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
      throw new InvalidatorException("injected publish failure", true);
    }
    synchronized (published) {
      published.addAll(batch);
    }
  }

  /** Makes the next {@code n} calls throw. */
  void failNext(int n) {
    failuresLeft.set(n);
  }

  int calls() {
    return calls.get();
  }

  /** The size of every batch published or attempted, in call order. */
  List<Integer> batchSizes() {
    synchronized (sizes) {
      return List.copyOf(sizes);
    }
  }

  List<Outgoing> published() {
    synchronized (published) {
      return List.copyOf(published);
    }
  }

  List<UUID> eventIds() {
    return published().stream().map(o -> o.event().eventId()).toList();
  }
}
