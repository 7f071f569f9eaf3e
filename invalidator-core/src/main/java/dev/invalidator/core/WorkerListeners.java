package dev.invalidator.core;

import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Listeners made of listeners: a fan-out, and a guard that never lets a callback throw. */
public final class WorkerListeners {
  private static final Logger log = LoggerFactory.getLogger(WorkerListeners.class);
  private static final long LOG_EVERY_NANOS = 60_000_000_000L;

  private WorkerListeners() {}

  /** A listener that calls each of {@code listeners} in order. */
  public static WorkerListener all(WorkerListener... listeners) {
    List<WorkerListener> ls = List.of(listeners);
    return new Forwarding() {
      @Override
      void forward(String callback, Consumer<WorkerListener> call) {
        ls.forEach(call);
      }
    };
  }

  /**
   * {@code listener}, guarded: what a callback throws is logged (at WARN, at most once a minute,
   * then counted) instead of reaching the worker loop. A listener is only for figures; a throwing
   * one must not keep a batch from being acknowledged, or a stored dead letter from counting as
   * stored.
   */
  public static WorkerListener guarded(WorkerListener listener) {
    return listener instanceof Guarded || listener == WorkerListener.NONE
        ? listener
        : new Guarded(listener);
  }

  private static final class Guarded extends Forwarding {
    private final WorkerListener delegate;
    private long nextLog = System.nanoTime();
    private long suppressed;

    Guarded(WorkerListener delegate) {
      this.delegate = delegate;
    }

    @Override
    void forward(String callback, Consumer<WorkerListener> call) {
      try {
        call.accept(delegate);
      } catch (RuntimeException ex) {
        report(callback, ex);
      }
    }

    private synchronized void report(String callback, RuntimeException ex) {
      long now = System.nanoTime();
      if (now - nextLog < 0) {
        suppressed++;
        return;
      }
      nextLog = now + LOG_EVERY_NANOS;
      log.warn(
          "worker listener {} threw in {} (ignored; {} more since the last report): {}",
          delegate.getClass().getName(),
          callback,
          suppressed,
          ex.toString(),
          ex);
      suppressed = 0;
    }
  }

  /** Every callback handed to {@link #forward} as a call on a listener: written once. */
  private abstract static class Forwarding implements WorkerListener {
    abstract void forward(String callback, Consumer<WorkerListener> call);

    @Override
    public void applied(
        String target,
        InvalidationEvent event,
        ApplyResult result,
        Instant committedAt,
        Instant appliedAt) {
      forward("applied", l -> l.applied(target, event, result, committedAt, appliedAt));
    }

    @Override
    public void failed(String target, Delivery delivery, RuntimeException error) {
      forward("failed", l -> l.failed(target, delivery, error));
    }

    @Override
    public void deadLettered(DeadLetter deadLetter) {
      forward("deadLettered", l -> l.deadLettered(deadLetter));
    }

    @Override
    public void consumed(Delivery delivery, long lagMillis) {
      forward("consumed", l -> l.consumed(delivery, lagMillis));
    }

    @Override
    public void retried(Delivery delivery) {
      forward("retried", l -> l.retried(delivery));
    }

    @Override
    public void circuitStateChanged(String target, String fromState, String toState) {
      forward("circuitStateChanged", l -> l.circuitStateChanged(target, fromState, toState));
    }

    @Override
    public void loopError(Throwable error) {
      forward("loopError", l -> l.loopError(error));
    }
  }
}
