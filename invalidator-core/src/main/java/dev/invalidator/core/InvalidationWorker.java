package dev.invalidator.core;

import io.opentelemetry.api.trace.Span;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker loop: take deliveries from an {@link EventSource}, decode and validate them, apply
 * each to every {@link Target}, and acknowledge an entry only after every target applied it.
 *
 * <p>Design notes. Acknowledgement after apply is what makes delivery at-least-once (G2): a crash
 * between apply and ack leaves the entry pending, another consumer claims it after {@code
 * claimMinIdle}, and the repeated apply is harmless because targets are version-gated (G4). An
 * entry that cannot be decoded or validated goes to the dead letters at once, with a {@link
 * DeadLetterReason}, and is acknowledged only once the dead letter is stored.
 *
 * <p>Retries. A failed entry is not acknowledged: it stays pending with this consumer, and the loop
 * takes it back ({@link EventSource#claimDueRetries}) once it has been idle for its backoff, which
 * grows with the transport's delivery count (full jitter, capped). The count lives in the
 * transport, so a crash does not reset it. An entry that a target failed on its {@code
 * maxDeliveries}-th delivery goes to the dead letters ({@code retries_exhausted}); an event a
 * target refuses for good (an invalid event, a permanent {@link InvalidatorException}) goes there
 * at once ({@code rejected}, or the invalid event's own reason).
 *
 * <p>Circuit breakers ({@link TargetBreakers}). A target that throws for a whole batch is down: the
 * failure is recorded by its breaker, never counted against the entries (they are not dead-lettered
 * however often they were delivered during the outage, unless the error is permanent). While a
 * breaker is open the loop reads nothing, claims nothing and retries nothing; after the breaker's
 * wait one probe batch goes through, and its success resumes the loop.
 *
 * <p>The loop catches everything at its boundary, logs, backs off and continues; an interrupt stops
 * it.
 */
public final class InvalidationWorker implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(InvalidationWorker.class);

  /** Worker settings. */
  public record Options(
      int batchSize,
      Duration block,
      Duration claimMinIdle,
      Duration claimInterval,
      int maxDeliveries,
      Backoff loopBackoff,
      Backoff retryBackoff,
      Duration retryInterval,
      Set<String> eventTypes,
      Duration breakerOpenWait) {
    public static final int DEFAULT_BATCH_SIZE = 256;
    public static final Duration DEFAULT_BLOCK = Duration.ofMillis(500);
    public static final Duration DEFAULT_CLAIM_MIN_IDLE = Duration.ofSeconds(30);
    public static final Duration DEFAULT_CLAIM_INTERVAL = Duration.ofSeconds(5);
    public static final int DEFAULT_MAX_DELIVERIES = 16;
    public static final Backoff DEFAULT_RETRY_BACKOFF =
        new Backoff(Duration.ofMillis(200), Duration.ofSeconds(60));
    public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofMillis(250);

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
      Objects.requireNonNull(retryBackoff, "worker.retryBackoff");
      requirePositive("worker.retryInterval", retryInterval);
      eventTypes = Set.copyOf(Objects.requireNonNull(eventTypes, "worker.eventTypes"));
      requirePositive("worker.breakerOpenWait", breakerOpenWait);
    }

    /** The defaults: every {@code DEFAULT_*} above, any event type. */
    public static Options defaults() {
      return builder().build();
    }

    /** A builder starting from the defaults. */
    public static Builder builder() {
      return new Builder();
    }

    /** A builder starting from these settings. */
    public Builder mutate() {
      Builder b = new Builder();
      b.batchSize = batchSize;
      b.block = block;
      b.claimMinIdle = claimMinIdle;
      b.claimInterval = claimInterval;
      b.maxDeliveries = maxDeliveries;
      b.loopBackoff = loopBackoff;
      b.retryBackoff = retryBackoff;
      b.retryInterval = retryInterval;
      b.eventTypes = eventTypes;
      b.breakerOpenWait = breakerOpenWait;
      return b;
    }

    /** Builds {@link Options}; every setting starts at its default and is checked in build. */
    public static final class Builder {
      private int batchSize = DEFAULT_BATCH_SIZE;
      private Duration block = DEFAULT_BLOCK;
      private Duration claimMinIdle = DEFAULT_CLAIM_MIN_IDLE;
      private Duration claimInterval = DEFAULT_CLAIM_INTERVAL;
      private int maxDeliveries = DEFAULT_MAX_DELIVERIES;
      private Backoff loopBackoff = Backoff.DEFAULT;
      private Backoff retryBackoff = DEFAULT_RETRY_BACKOFF;
      private Duration retryInterval = DEFAULT_RETRY_INTERVAL;
      private Set<String> eventTypes = Set.of();
      private Duration breakerOpenWait = TargetBreakers.DEFAULT_OPEN_WAIT;

      private Builder() {}

      /** Entries read per {@code XREADGROUP} (1..10000). */
      public Builder batchSize(int n) {
        this.batchSize = n;
        return this;
      }

      /** How long a read blocks when the stream is idle. */
      public Builder block(Duration d) {
        this.block = d;
        return this;
      }

      /** Idle time after which another consumer takes over a pending entry. */
      public Builder claimMinIdle(Duration d) {
        this.claimMinIdle = d;
        return this;
      }

      /** How often the worker looks for abandoned entries. */
      public Builder claimInterval(Duration d) {
        this.claimInterval = d;
        return this;
      }

      /** Deliveries after which a failing entry is dead-lettered. */
      public Builder maxDeliveries(int n) {
        this.maxDeliveries = n;
        return this;
      }

      /** Backoff of the loop itself after a failed read. */
      public Builder loopBackoff(Backoff b) {
        this.loopBackoff = b;
        return this;
      }

      /** Retry backoff of failed entries and how often the loop looks for due retries. */
      public Builder retry(Backoff backoff, Duration interval) {
        this.retryBackoff = backoff;
        this.retryInterval = interval;
        return this;
      }

      /** The allowed event types; empty allows every well-formed type. */
      public Builder eventTypes(Set<String> types) {
        this.eventTypes = types;
        return this;
      }

      /** How long a target's open circuit breaker waits before a probe batch. */
      public Builder breakerOpenWait(Duration d) {
        this.breakerOpenWait = d;
        return this;
      }

      /** Checks every setting and builds the options. */
      public Options build() {
        return new Options(
            batchSize,
            block,
            claimMinIdle,
            claimInterval,
            maxDeliveries,
            loopBackoff,
            retryBackoff,
            retryInterval,
            eventTypes,
            breakerOpenWait);
      }
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
  private final FailureHistory failures;
  private final TargetBreakers breakers;
  private final Options options;
  private final WorkerListener listener;
  private final Clock clock;
  private final MessagingSpans spans;
  private volatile boolean running = true;
  private volatile Instant lastLoop;
  private Instant nextClaim = Instant.MIN;
  private Instant nextRetry = Instant.MIN;

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
    this(
        source,
        targets,
        deadLetters,
        FailureHistory.NONE,
        new TargetBreakers(options.breakerOpenWait(), listener),
        options,
        listener,
        clock,
        spans);
  }

  /**
   * @param failures where first-failure times are kept
   * @param breakers the circuit breakers of the targets, shared by the workers of a process
   */
  public InvalidationWorker(
      EventSource source,
      List<Target> targets,
      DeadLetters deadLetters,
      FailureHistory failures,
      TargetBreakers breakers,
      Options options,
      WorkerListener listener,
      Clock clock) {
    this(
        source,
        targets,
        deadLetters,
        failures,
        breakers,
        options,
        listener,
        clock,
        MessagingSpans.NOOP);
  }

  /**
   * @param failures where first-failure times are kept
   * @param breakers the circuit breakers of the targets, shared by the workers of a process
   * @param spans makes a {@code process} span per entry carrying trace context
   */
  public InvalidationWorker(
      EventSource source,
      List<Target> targets,
      DeadLetters deadLetters,
      FailureHistory failures,
      TargetBreakers breakers,
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
    this.failures = Objects.requireNonNull(failures, "failures");
    this.breakers = Objects.requireNonNull(breakers, "breakers");
    this.options = Objects.requireNonNull(options, "options");
    // Guarded: a listener that throws must not keep a batch from being acknowledged.
    this.listener = WorkerListeners.guarded(Objects.requireNonNull(listener, "listener"));
    this.clock = Objects.requireNonNull(clock, "clock");
    this.lastLoop = clock.instant();
    this.targets.forEach(t -> breakers.of(t.name()));
  }

  /** Asks the loop to stop after the batch in flight. */
  public void stop() {
    running = false;
  }

  /** When the loop last completed an iteration: a stuck loop stops advancing this. */
  public Instant lastLoop() {
    return lastLoop;
  }

  /** The circuit breakers this worker consults. */
  public TargetBreakers breakers() {
    return breakers;
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
   * One iteration: unless a target's circuit breaker is open, claim abandoned deliveries and due
   * retries when it is time, then poll new ones, and process them all. Returns how many deliveries
   * were processed.
   */
  public int runOnce() throws InterruptedException {
    if (paused()) {
      // A target is down: read nothing, so nothing piles up deliveries against it.
      Thread.sleep(Math.min(options.block().toMillis(), 100));
      lastLoop = clock.instant();
      return 0;
    }
    int n = 0;
    Instant now = clock.instant();
    if (!now.isBefore(nextClaim)) {
      nextClaim = now.plus(options.claimInterval());
      List<Delivery> claimed = source.claimAbandoned(options.claimMinIdle(), options.batchSize());
      if (!claimed.isEmpty()) {
        log.debug("claimed {} abandoned deliveries", claimed.size());
        claimed.stream().filter(d -> d.deliveryCount() > 1).forEach(listener::retried);
        process(claimed);
        n += claimed.size();
      }
    }
    if (!now.isBefore(nextRetry)) {
      nextRetry = now.plus(options.retryInterval());
      List<Delivery> due = source.claimDueRetries(options.retryBackoff(), options.batchSize());
      if (!due.isEmpty()) {
        log.debug("retrying {} failed deliveries", due.size());
        due.forEach(listener::retried);
        process(due);
        n += due.size();
      }
    }
    List<Delivery> fresh = source.poll(options.batchSize(), options.block());
    process(fresh);
    lastLoop = clock.instant();
    return n + fresh.size();
  }

  /** Types in {@code worker.eventTypes}, or any when it is empty; flush events always pass. */
  private boolean allowedType(String type) {
    return options.eventTypes().isEmpty()
        || options.eventTypes().contains(type)
        || type.equals(FlushEvents.TAG_INVALIDATE)
        || type.equals(FlushEvents.TENANT_FLUSH);
  }

  private boolean paused() {
    for (Target t : targets) {
      if (!breakers.admits(t.name())) {
        return true;
      }
    }
    return false;
  }

  /** Processes one batch: decode, dead-letter poison, apply to every target, ack successes. */
  public void process(List<Delivery> batch) {
    if (batch.isEmpty()) {
      return;
    }
    // Two lists, not a map keyed by Delivery: a Delivery's hash covers all its fields.
    List<Delivery> deliveries = new ArrayList<>(batch.size());
    List<InvalidationEvent> events = new ArrayList<>(batch.size());
    List<String> ack = new ArrayList<>();
    List<String> recovered = new ArrayList<>();
    Instant now = clock.instant();
    for (Delivery d : batch) {
      Instant published = StreamEntry.publishedAt(d.fields());
      if (published != null) {
        listener.consumed(d, Math.max(0, now.toEpochMilli() - published.toEpochMilli()));
      }
      try {
        InvalidationEvent e = StreamEntry.event(d.fields());
        if (!allowedType(e.eventType())) {
          throw new InvalidEventException(
              "event_type",
              "'"
                  + e.eventType()
                  + "' is not an allowed event type (worker.eventTypes: "
                  + new java.util.TreeSet<>(options.eventTypes())
                  + ")");
        }
        deliveries.add(d);
        events.add(e);
      } catch (InvalidEventException ex) {
        if (deadLetter(d, "*", DeadLetterReason.of(ex), ex.getMessage())) {
          ack.add(d.id());
        }
      }
    }
    if (!events.isEmpty()) {
      boolean[] ok = new boolean[events.size()];
      boolean[] dead = new boolean[events.size()];
      java.util.Arrays.fill(ok, true);
      Span[] traced = startSpans(deliveries, events);
      for (Target t : targets) {
        List<ApplyResult> results = applyAll(t, events);
        if (results == null) {
          // The breaker refused the call or the target is down: everything stays pending, and
          // the delivery counts of an outage never dead-letter anything.
          java.util.Arrays.fill(ok, false);
          continue;
        }
        Instant appliedAt = clock.instant();
        for (int i = 0; i < events.size(); i++) {
          ApplyResult r = results.get(i);
          Delivery d = deliveries.get(i);
          if (r.succeeded()) {
            listener.applied(
                t.name(), events.get(i), r, StreamEntry.committedAt(d.fields()), appliedAt);
          } else if (!dead[i]) {
            ok[i] = false;
            listener.failed(t.name(), d, r.error());
            if (traced != null) {
              MessagingSpans.fail(traced[i], r.error());
            }
            Instant first = firstFailure(d, appliedAt);
            DeadLetterReason permanent = permanentReason(r.error());
            if (busy(r.error())) {
              // Another worker holds what this event needs and is making progress: wait for it,
              // whatever the delivery count says.
              log.debug(
                  "event {} waits on {} (delivery {}): {}",
                  events.get(i).eventId(),
                  t.name(),
                  d.deliveryCount(),
                  String.valueOf(r.error()));
            } else if (permanent != null || d.deliveryCount() >= options.maxDeliveries()) {
              // A permanent refusal, or the last delivery: keep the event with its reason
              // instead of retrying what cannot succeed, or retrying forever.
              if (deadLetter(
                  d,
                  t.name(),
                  permanent != null ? permanent : DeadLetterReason.RETRIES_EXHAUSTED,
                  String.valueOf(r.error()),
                  first,
                  appliedAt)) {
                dead[i] = true;
                if (traced != null) {
                  traced[i].addEvent("dead_lettered");
                }
              }
            } else {
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
        if (ok[i] || dead[i]) {
          ack.add(deliveries.get(i).id());
          if (ok[i] && deliveries.get(i).deliveryCount() > 1) {
            recovered.add(deliveries.get(i).id());
          }
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
    for (String id : recovered) {
      try {
        failures.forget(id);
      } catch (RuntimeException ex) {
        log.debug("could not forget failures of {}", id, ex);
      }
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

  /**
   * Applies a batch to one target through its breaker. Returns null when the breaker refused the
   * call or the target failed the batch as a whole with a retryable error (it is down); a permanent
   * batch-wide error becomes a failed result per event, so retries and dead-lettering apply.
   */
  private List<ApplyResult> applyAll(Target t, List<InvalidationEvent> events) {
    io.github.resilience4j.circuitbreaker.CircuitBreaker cb = breakers.of(t.name());
    if (!cb.tryAcquirePermission()) {
      return null;
    }
    long start = System.nanoTime();
    try {
      List<ApplyResult> results = t.apply(events);
      if (results.size() != events.size()) {
        throw new IllegalStateException(
            "target " + t.name() + " returned " + results.size() + " results for " + events.size());
      }
      cb.onSuccess(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      return results;
    } catch (RuntimeException ex) {
      cb.onError(System.nanoTime() - start, TimeUnit.NANOSECONDS, ex);
      boolean retryable = !(ex instanceof InvalidatorException ie) || ie.isRetryable();
      log.warn(
          "target {} failed a batch of {} ({}): {}",
          t.name(),
          events.size(),
          retryable ? "retryable; entries stay pending" : "permanent",
          ex.toString());
      if (retryable) {
        return null;
      }
      List<ApplyResult> failed = new ArrayList<>(events.size());
      for (int i = 0; i < events.size(); i++) {
        failed.add(ApplyResult.failed(ex));
      }
      return failed;
    }
  }

  /**
   * The dead-letter reason of a failure no retry can cure, or null when it may: an invalid event
   * (by its own reason) or a target's permanent refusal ({@link DeadLetterReason#REJECTED}).
   */
  private static boolean busy(RuntimeException error) {
    for (Throwable e = error; e != null; e = e.getCause()) {
      if (e instanceof BusyException) {
        return true;
      }
    }
    return false;
  }

  private static DeadLetterReason permanentReason(RuntimeException error) {
    for (Throwable e = error; e != null; e = e.getCause()) {
      if (e instanceof InvalidEventException invalid) {
        return DeadLetterReason.of(invalid);
      }
    }
    if (error instanceof InvalidatorException ie && !ie.isRetryable()) {
      return DeadLetterReason.REJECTED;
    }
    return null;
  }

  private Instant firstFailure(Delivery d, Instant now) {
    try {
      return failures.recordFailure(d.id(), now);
    } catch (RuntimeException ex) {
      log.debug("could not record failure of {}", d.id(), ex);
      return now;
    }
  }

  private boolean deadLetter(Delivery d, String target, DeadLetterReason reason, String error) {
    Instant now = clock.instant();
    return deadLetter(d, target, reason, error, now, now);
  }

  private boolean deadLetter(
      Delivery d,
      String target,
      DeadLetterReason reason,
      String error,
      Instant firstFailure,
      Instant lastFailure) {
    DeadLetter dl =
        new DeadLetter(
            d.id(),
            d.fields(),
            target,
            reason.label(),
            d.deliveryCount(),
            firstFailure,
            lastFailure,
            error);
    try {
      deadLetters.add(dl);
      listener.deadLettered(dl);
      log.warn(
          "entry {} dead-lettered ({}, target {}, {} deliveries): {}",
          d.id(),
          reason.label(),
          target,
          d.deliveryCount(),
          error);
      try {
        failures.forget(d.id());
      } catch (RuntimeException ex) {
        log.debug("could not forget failures of {}", d.id(), ex);
      }
      return true;
    } catch (RuntimeException ex) {
      log.error("could not store dead letter for entry {}; it stays pending", d.id(), ex);
      return false;
    }
  }
}
