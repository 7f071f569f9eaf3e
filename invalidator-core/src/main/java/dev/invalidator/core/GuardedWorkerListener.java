package dev.invalidator.core;

import java.time.Instant;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link WorkerListener} that never throws: each call goes to the wrapped listener, and what it
 * throws is logged (at WARN, at most once a minute per callback, then counted) instead of reaching
 * the worker loop. A listener is only for figures; a throwing one must not keep a batch from being
 * acknowledged, or a dead letter from being reported as stored.
 */
final class GuardedWorkerListener implements WorkerListener {
  private static final Logger log = LoggerFactory.getLogger(GuardedWorkerListener.class);
  private static final long LOG_EVERY_NANOS = 60_000_000_000L;

  private final WorkerListener delegate;
  private volatile long nextLog = System.nanoTime();
  private long suppressed;

  private GuardedWorkerListener(WorkerListener delegate) {
    this.delegate = delegate;
  }

  /** {@code listener}, guarded (once). */
  static WorkerListener of(WorkerListener listener) {
    return listener instanceof GuardedWorkerListener || listener == WorkerListener.NONE
        ? listener
        : new GuardedWorkerListener(listener);
  }

  private void call(String callback, Consumer<WorkerListener> call) {
    try {
      call.accept(delegate);
    } catch (RuntimeException ex) {
      long now = System.nanoTime();
      synchronized (this) {
        if (now - nextLog >= 0) {
          nextLog = now + LOG_EVERY_NANOS;
          log.warn(
              "worker listener {} threw in {} (ignored; {} more since the last report): {}",
              delegate.getClass().getName(),
              callback,
              suppressed,
              ex.toString(),
              ex);
          suppressed = 0;
        } else {
          suppressed++;
        }
      }
    }
  }

  @Override
  public void applied(
      String target,
      InvalidationEvent event,
      ApplyResult result,
      Instant committedAt,
      Instant appliedAt) {
    call("applied", l -> l.applied(target, event, result, committedAt, appliedAt));
  }

  @Override
  public void failed(String target, Delivery delivery, RuntimeException error) {
    call("failed", l -> l.failed(target, delivery, error));
  }

  @Override
  public void deadLettered(DeadLetter deadLetter) {
    call("deadLettered", l -> l.deadLettered(deadLetter));
  }

  @Override
  public void consumed(Delivery delivery, long lagMillis) {
    call("consumed", l -> l.consumed(delivery, lagMillis));
  }

  @Override
  public void retried(Delivery delivery) {
    call("retried", l -> l.retried(delivery));
  }

  @Override
  public void circuitStateChanged(String target, String fromState, String toState) {
    call("circuitStateChanged", l -> l.circuitStateChanged(target, fromState, toState));
  }

  @Override
  public void loopError(Throwable error) {
    call("loopError", l -> l.loopError(error));
  }
}
