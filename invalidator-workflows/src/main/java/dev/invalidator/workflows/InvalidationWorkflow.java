package dev.invalidator.workflows;

import dev.dbos.transact.DBOS;
import dev.dbos.transact.workflow.StepOptions;
import dev.dbos.transact.workflow.Workflow;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.DeadLetterReason;
import dev.invalidator.core.DeadLetters;
import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.StreamEntry;
import dev.invalidator.workflows.internal.WorkflowRunner;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Scope;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Not API (public only because DBOS calls it reflectively): the one DBOS workflow, which runs a
 * {@link WorkflowDefinition}'s steps in order for one event.
 *
 * <p>Design note. Everything with an effect happens inside {@code dbos.runStep}, {@code dbos.sleep}
 * or {@code dbos.recv}: DBOS checkpoints each of them by position and name, so a recovered workflow
 * replays the finished ones from their records and continues with the first unfinished one. The
 * code outside them must be deterministic: it only reads the definition and the event. A step's
 * retries are DBOS's (backoff doubling from the definition's retry interval, only for retryable
 * failures); when they are exhausted or the target refuses the event, a second step ({@code
 * <step>-dead-letter}) writes the dead letter exactly once, and the workflow ends in {@code ERROR},
 * from which {@code invalidator workflows retry} forks it at the failed step.
 */
public final class InvalidationWorkflow implements WorkflowRunner {
  private static final Logger log = LoggerFactory.getLogger(InvalidationWorkflow.class);

  private final DBOS dbos;
  private final Map<String, WorkflowDefinition> definitions;
  private final DeadLetters deadLetters;
  private final WorkflowMetrics metrics;
  private final WorkflowSpans spans;
  private final boolean durableThrottleWait;

  /** A step attempt's recorded output when the receiver throttled it: then the end of its wait. */
  static final String THROTTLED = "throttled-until:";

  InvalidationWorkflow(
      DBOS dbos,
      Map<String, WorkflowDefinition> definitions,
      DeadLetters deadLetters,
      WorkflowMetrics metrics,
      WorkflowSpans spans,
      boolean durableThrottleWait) {
    this.dbos = dbos;
    this.definitions = definitions;
    this.deadLetters = deadLetters;
    this.metrics = metrics;
    this.spans = spans;
    this.durableThrottleWait = durableThrottleWait;
  }

  @Override
  @Workflow(name = "invalidation")
  public String run(String definition, String encodedEvent) {
    WorkflowDefinition def = definitions.get(definition);
    if (def == null) {
      throw new StepException(
          "workflow " + definition + " is not configured in this process any more", false);
    }
    InvalidationEvent event = EventCodec.decode(encodedEvent);
    String workflowId = DBOS.workflowId();
    for (WorkflowStep step : def.steps()) {
      switch (step.kind()) {
        case WAIT -> {
          long start = System.nanoTime();
          dbos.sleep(step.duration());
          metrics.stepFinished(def.name(), step, "ok", System.nanoTime() - start);
        }
        case WAIT_FOR_CALLBACK -> awaitCallback(def, step, event, workflowId);
        default -> callTarget(def, step, event, workflowId);
      }
    }
    return "completed";
  }

  private void awaitCallback(
      WorkflowDefinition def, WorkflowStep step, InvalidationEvent event, String workflowId) {
    long start = System.nanoTime();
    Optional<Object> got = dbos.recv(step.name(), step.duration());
    if (got.isPresent()) {
      metrics.stepFinished(def.name(), step, "ok", System.nanoTime() - start);
      return;
    }
    metrics.stepFinished(def.name(), step, "timeout", System.nanoTime() - start);
    if (!step.failOnTimeout()) {
      log.info(
          "workflow {}: no callback for {} within {}", workflowId, step.name(), step.duration());
      return;
    }
    fail(
        def,
        step,
        event,
        workflowId,
        new StepException("no callback within " + step.duration(), false),
        DeadLetterReason.RETRIES_EXHAUSTED);
  }

  private void callTarget(
      WorkflowDefinition def, WorkflowStep step, InvalidationEvent event, String workflowId) {
    StepOptions options =
        new StepOptions(step.name())
            .withMaxAttempts(def.maxAttempts())
            .withRetryInterval(def.retryInterval())
            .withBackoffRate(2.0)
            .withShouldRetry(e -> e instanceof InvalidatorException ie && ie.isRetryable());
    // A receiver's 429 with a wait ends a round: the attempt's output records when the wait ends,
    // and the workflow sleeps until then with dbos.sleep, whose end time is recorded too, so a
    // restarted process waits out only the rest and never sends early. The last round (maxAttempts
    // rounds in all) takes a 429 as a retryable failure again, retried by DBOS as any other.
    for (int round = 1; ; round++) {
      boolean lastRound = !durableThrottleWait || round >= def.maxAttempts();
      String outcome;
      try {
        outcome = dbos.runStep(() -> applyOnce(def, step, event, workflowId, lastRound), options);
      } catch (StepException e) {
        fail(
            def,
            step,
            event,
            workflowId,
            e,
            e.isRetryable() ? DeadLetterReason.RETRIES_EXHAUSTED : DeadLetterReason.REJECTED);
        return;
      }
      if (outcome == null || !outcome.startsWith(THROTTLED)) {
        return;
      }
      Instant until = Instant.ofEpochMilli(Long.parseLong(outcome.substring(THROTTLED.length())));
      Duration wait = Duration.between(Instant.now(), until);
      log.info(
          "workflow {}: step {} throttled by its receiver (HTTP 429), waiting durably until {}",
          workflowId,
          step.name(),
          until);
      dbos.sleep(wait.compareTo(MIN_SLEEP) < 0 ? MIN_SLEEP : wait);
    }
  }

  private static final Duration MIN_SLEEP = Duration.ofMillis(1);

  /** One attempt: applies the event to the step's target, in a span child of the event's trace. */
  private String applyOnce(
      WorkflowDefinition def,
      WorkflowStep step,
      InvalidationEvent event,
      String workflowId,
      boolean lastRound) {
    long start = System.nanoTime();
    Span span = spans.startStep(def.name(), step, workflowId, event);
    Scope scope = span.makeCurrent();
    try {
      ApplyResult result;
      try {
        result = step.target().apply(List.of(event)).get(0);
      } catch (InvalidatorException e) {
        throw new StepException(String.valueOf(e.getMessage()), e.isRetryable());
      } catch (RuntimeException e) {
        throw new StepException(e.toString(), true);
      }
      if (!result.succeeded()) {
        RuntimeException error = result.error();
        if (!lastRound
            && error instanceof InvalidatorException ie
            && ie.isRetryable()
            && ie.retryAfter().isPresent()) {
          metrics.stepFinished(def.name(), step, "retry", System.nanoTime() - start);
          WorkflowSpans.fail(span, error);
          return THROTTLED + Instant.now().plus(ie.retryAfter().get()).toEpochMilli();
        }
        boolean retryable = !(error instanceof InvalidatorException ie) || ie.isRetryable();
        throw new StepException(String.valueOf(error), retryable);
      }
      metrics.stepFinished(def.name(), step, "ok", System.nanoTime() - start);
      return result.status().name().toLowerCase(java.util.Locale.ROOT);
    } catch (StepException e) {
      metrics.stepFinished(
          def.name(), step, e.isRetryable() ? "retry" : "failed", System.nanoTime() - start);
      WorkflowSpans.fail(span, e);
      throw e;
    } finally {
      scope.close();
      span.end();
    }
  }

  private void fail(
      WorkflowDefinition def,
      WorkflowStep step,
      InvalidationEvent event,
      String workflowId,
      StepException error,
      DeadLetterReason reason) {
    dbos.runStep(
        () -> {
          Map<String, String> original =
              new LinkedHashMap<>(StreamEntry.fields(0, event, event.createdAt(), Instant.now()));
          original.put("workflow_id", workflowId);
          original.put("workflow_step", step.name());
          Instant now = Instant.now();
          deadLetters.add(
              new DeadLetter(
                  workflowId,
                  original,
                  def.name() + "." + step.name(),
                  reason.label(),
                  step.kind().callsTarget() ? def.maxAttempts() : 1,
                  now,
                  now,
                  String.valueOf(error.getMessage())));
          return "dead-lettered";
        },
        step.name() + "-dead-letter");
    metrics.deadLettered(def.name(), step);
    log.warn(
        "workflow {}: step {} failed for good ({}), event in the dead letters: {}",
        workflowId,
        step.name(),
        reason.label(),
        error.getMessage());
    throw error;
  }
}
