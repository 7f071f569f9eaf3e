package dev.invalidator.core;

import io.opentelemetry.api.trace.Span;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker loop: take deliveries from an {@link EventSource}, decode and validate them, apply
 * each to every {@link Target}, and acknowledge an entry only after every target applied it.
 *
 * <p>Design notes. Acknowledgement after apply is what makes delivery at-least-once (G2): a crash
 * between apply and ack leaves the entry pending, another consumer claims it after {@code
 * claimMinIdle}, and the repeated apply is harmless because targets are version-gated (G4). An
 * entry that cannot be decoded or validated goes to the dead letters at once and is acknowledged
 * only once the dead letter is stored; one that failed on a target as often as {@code
 * maxDeliveries} (counted by the transport, which survives crashes) goes there too. The loop
 * catches everything at its boundary, logs, backs off and continues; an interrupt stops it.
 */
public final class InvalidationWorker implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(InvalidationWorker.class);

  /** Worker settings; see {@link Options#builder()}. */
  public record Options(
      int batchSize,
      Duration block,
      Duration claimMinIdle,
      Duration claimInterval,
      int maxDeliveries,
      Backoff loopBackoff) {
    public static final int DEFAULT_BATCH_SIZE = 256;
    public static final Duration DEFAULT_BLOCK = Duration.ofMillis(500);
    public static final Duration DEFAULT_CLAIM_MIN_IDLE = Duration.ofSeconds(30);
    public static final Duration DEFAULT_CLAIM_INTERVAL = Duration.ofSeconds(5);
    public static final int DEFAULT_MAX_DELIVERIES = 16;

    public Options {
      if (batchSize < 1 || batchSize > 10_000) {
        throw new IllegalArgumentException("worker.batchSize must be 1..10000, got " + batchSize);
      }
      requirePositive("worker.block", block);
      requirePositive("worker.claimMinIdle", claimMinIdle);
      requirePositive("worker.claimInterval", claimInterval);
      if (maxDeliveries < 1) {
        throw new IllegalArgumentException(
            "worker.maxDeliveries must be >= 1, got " + maxDeliveries);
      }
      Objects.requireNonNull(loopBackoff, "loopBackoff");
    }

    public static Options defaults() {
      return new Options(
          DEFAULT_BATCH_SIZE,
          DEFAULT_BLOCK,
          DEFAULT_CLAIM_MIN_IDLE,
          DEFAULT_CLAIM_INTERVAL,
          DEFAULT_MAX_DELIVERIES,
          Backoff.DEFAULT);
    }

    public Options withClaimMinIdle(Duration d) {
      return new Options(batchSize, block, d, claimInterval, maxDeliveries, loopBackoff);
    }

    public Options withClaimInterval(Duration d) {
      return new Options(batchSize, block, claimMinIdle, d, maxDeliveries, loopBackoff);
    }

    public Options withBlock(Duration d) {
      return new Options(batchSize, d, claimMinIdle, claimInterval, maxDeliveries, loopBackoff);
    }

    public Options withBatchSize(int n) {
      return new Options(n, block, claimMinIdle, claimInterval, maxDeliveries, loopBackoff);
    }

    public Options withMaxDeliveries(int n) {
      return new Options(batchSize, block, claimMinIdle, claimInterval, n, loopBackoff);
    }

    private static void requirePositive(String name, Duration d) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(name + " must be a positive duration, got " + d);
      }
    }
  }

  private final EventSource source;
  private final List<Target> targets;
  private final DeadLetters deadLetters;
  private final Options options;
  private final WorkerListener listener;
  private final Clock clock;
  private final MessagingSpans spans;
  private volatile boolean running = true;
  private volatile Instant lastLoop;
  private Instant nextClaim = Instant.MIN;

  public InvalidationWorker(
      EventSource source,
      List<Target> targets,
      DeadLetters deadLetters,
      Options options,
      WorkerListener listener,
      Clock clock) {
    this(source, targets, deadLetters, options, listener, clock, MessagingSpans.NOOP);
  }

  /**
   * A worker that also makes a {@code process} span per entry carrying trace context, child of the
   * writer's span (see {@link MessagingSpans}).
   */
  public InvalidationWorker(
      EventSource source,
      List<Target> targets,
      DeadLetters deadLetters,
      Options options,
      WorkerListener listener,
      Clock clock,
      MessagingSpans spans) {
    this.spans = Objects.requireNonNull(spans, "spans");
    this.source = Objects.requireNonNull(source, "source");
    this.targets = List.copyOf(targets);
    if (this.targets.isEmpty()) {
      throw new IllegalArgumentException("a worker needs at least one target");
    }
    this.deadLetters = Objects.requireNonNull(deadLetters, "deadLetters");
    this.options = Objects.requireNonNull(options, "options");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.lastLoop = clock.instant();
  }

  /** Asks the loop to stop after the batch in flight. */
  public void stop() {
    running = false;
  }

  /** When the loop last completed an iteration: a stuck loop stops advancing this. */
  public Instant lastLoop() {
    return lastLoop;
  }

  @Override
  public void run() {
    int failures = 0;
    while (running && !Thread.currentThread().isInterrupted()) {
      try {
        runOnce();
        failures = 0;
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        break;
      } catch (RuntimeException ex) {
        listener.loopError(ex);
        Duration delay = options.loopBackoff().delay(failures++);
        log.warn("worker loop error, retrying in {} ms: {}", delay.toMillis(), ex.toString(), ex);
        try {
          Thread.sleep(delay.toMillis());
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    log.info("worker loop stopped");
  }

  /**
   * One iteration: claim abandoned deliveries when due, then poll new ones, and process both.
   * Returns how many deliveries were processed.
   */
  public int runOnce() throws InterruptedException {
    int n = 0;
    Instant now = clock.instant();
    if (!now.isBefore(nextClaim)) {
      nextClaim = now.plus(options.claimInterval());
      List<Delivery> claimed = source.claimAbandoned(options.claimMinIdle(), options.batchSize());
      if (!claimed.isEmpty()) {
        log.debug("claimed {} abandoned deliveries", claimed.size());
        process(claimed);
        n += claimed.size();
      }
    }
    List<Delivery> fresh = source.poll(options.batchSize(), options.block());
    process(fresh);
    lastLoop = clock.instant();
    return n + fresh.size();
  }

  /** Processes one batch: decode, dead-letter poison, apply to every target, ack successes. */
  public void process(List<Delivery> batch) {
    if (batch.isEmpty()) {
      return;
    }
    Map<Delivery, InvalidationEvent> valid = new LinkedHashMap<>();
    List<String> ack = new ArrayList<>();
    Instant now = clock.instant();
    for (Delivery d : batch) {
      Instant published = StreamEntry.publishedAt(d.fields());
      if (published != null) {
        listener.consumed(d, Math.max(0, now.toEpochMilli() - published.toEpochMilli()));
      }
      try {
        valid.put(d, StreamEntry.event(d.fields()));
      } catch (InvalidEventException ex) {
        String reason = ex.field().equals("event") ? "poison" : "invalid";
        if (deadLetter(d, "*", reason, ex.getMessage())) {
          ack.add(d.id());
        }
      }
    }
    if (!valid.isEmpty()) {
      List<Delivery> deliveries = new ArrayList<>(valid.keySet());
      List<InvalidationEvent> events = new ArrayList<>(valid.values());
      boolean[] ok = new boolean[events.size()];
      java.util.Arrays.fill(ok, true);
      Span[] traced = startSpans(deliveries, events);
      for (Target t : targets) {
        List<ApplyResult> results = applyAll(t, events);
        Instant appliedAt = clock.instant();
        for (int i = 0; i < events.size(); i++) {
          ApplyResult r = results.get(i);
          Delivery d = deliveries.get(i);
          if (r.succeeded()) {
            listener.applied(
                t.name(), events.get(i), r, StreamEntry.committedAt(d.fields()), appliedAt);
          } else {
            ok[i] = false;
            listener.failed(t.name(), d, r.error());
            if (traced != null) {
              MessagingSpans.fail(traced[i], r.error());
            }
            if (d.deliveryCount() >= options.maxDeliveries()) {
              // The last delivery: keep the event with its reason instead of retrying forever.
              if (deadLetter(d, t.name(), "retries_exhausted", String.valueOf(r.error()))) {
                ok[i] = true; // acknowledged: it is safe in the dead letters
                if (traced != null) {
                  traced[i].addEvent("dead_lettered");
                }
              }
            } else {
              listener.retried(t.name(), d);
              log.debug(
                  "event {} failed on {} (delivery {}), left pending: {}",
                  events.get(i).eventId(),
                  t.name(),
                  d.deliveryCount(),
                  String.valueOf(r.error()));
            }
          }
        }
      }
      for (int i = 0; i < deliveries.size(); i++) {
        if (ok[i]) {
          ack.add(deliveries.get(i).id());
        }
      }
      if (traced != null) {
        for (Span span : traced) {
          span.end();
        }
      }
    }
    if (!ack.isEmpty()) {
      source.ack(ack);
    }
  }

  /** One span per delivery, or null when spans are off (no array, no work). */
  private Span[] startSpans(List<Delivery> deliveries, List<InvalidationEvent> events) {
    if (!spans.enabled()) {
      return null;
    }
    Span[] out = new Span[deliveries.size()];
    String destination = source.destination();
    for (int i = 0; i < out.length; i++) {
      out[i] = spans.startProcess(destination, deliveries.get(i), events.get(i));
    }
    return out;
  }

  private List<ApplyResult> applyAll(Target t, List<InvalidationEvent> events) {
    try {
      List<ApplyResult> results = t.apply(events);
      if (results.size() != events.size()) {
        throw new IllegalStateException(
            "target " + t.name() + " returned " + results.size() + " results for " + events.size());
      }
      return results;
    } catch (RuntimeException ex) {
      log.warn("target {} failed a batch of {}: {}", t.name(), events.size(), ex.toString());
      List<ApplyResult> failed = new ArrayList<>(events.size());
      for (int i = 0; i < events.size(); i++) {
        failed.add(ApplyResult.failed(ex));
      }
      return failed;
    }
  }

  private boolean deadLetter(Delivery d, String target, String reason, String error) {
    Instant now = clock.instant();
    DeadLetter dl =
        new DeadLetter(d.id(), d.fields(), target, reason, d.deliveryCount(), now, now, error);
    try {
      deadLetters.add(dl);
      listener.deadLettered(dl);
      log.warn("entry {} dead-lettered ({}, target {}): {}", d.id(), reason, target, error);
      return true;
    } catch (RuntimeException ex) {
      log.error("could not store dead letter for entry {}; it stays pending", d.id(), ex);
      return false;
    }
  }
}
