package dev.invalidator.workflows;

import dev.invalidator.core.Target;
import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One step of a {@link WorkflowDefinition}. Build one with {@link #target}, {@link #sleep} or
 * {@link #callback}.
 *
 * @param name the step's name, unique in its workflow: with the workflow id it is the step's
 *     idempotency key
 * @param kind what the step does
 * @param target the target a target-calling step applies the event to; null otherwise
 * @param duration the wait of a {@code wait} step, the timeout of a {@code wait-for-callback} step
 * @param failOnTimeout for {@code wait-for-callback}: true to fail the workflow (dead letter) when
 *     no callback came in time, false to go on with the next step
 */
public record WorkflowStep(
    String name, StepKind kind, Target target, Duration duration, boolean failOnTimeout) {

  static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,29}");

  /**
   * How long an HTTP target of a step should wait for a request token (its {@code rateLimitWait}),
   * a provider's advertised {@code Retry-After} included. A worker batch waits 1 s at most, since
   * it holds a worker thread for every event of the batch; a step holds one workflow's slot only,
   * and an attempt that gives up before the advertised time sends nothing and only spends one of
   * the step's attempts (the DBOS retries, 1 s doubling by default, run out long before a 30 s
   * Retry-After). So a throttled step waits the advertised time, up to this bound, and then sends.
   */
  public static final Duration TARGET_TOKEN_WAIT = Duration.ofSeconds(60);

  public WorkflowStep {
    Objects.requireNonNull(kind, "kind");
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "step name '" + name + "' must be 1-30 characters of a-z, 0-9 and '-'");
    }
    if (kind.callsTarget() && target == null) {
      throw new IllegalArgumentException("step " + name + " (" + kind.label() + ") needs a target");
    }
    if (!kind.callsTarget()) {
      if (duration == null || duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException(
            "step "
                + name
                + " ("
                + kind.label()
                + ") needs a positive "
                + (kind == StepKind.WAIT ? "duration" : "timeout"));
      }
    }
  }

  /** A step applying the event to {@code target}; {@code kind} must be a target-calling kind. */
  public static WorkflowStep target(String name, StepKind kind, Target target) {
    if (!kind.callsTarget()) {
      throw new IllegalArgumentException("step " + name + ": " + kind.label() + " has no target");
    }
    return new WorkflowStep(name, kind, target, null, false);
  }

  /** A durable wait (cooldown) of {@code duration}. */
  public static WorkflowStep sleep(String name, Duration duration) {
    return new WorkflowStep(name, StepKind.WAIT, null, duration, false);
  }

  /**
   * A wait for {@code POST /api/workflows/<workflow id>/callback/<step name>}, at most {@code
   * timeout}.
   */
  public static WorkflowStep callback(String name, Duration timeout, boolean failOnTimeout) {
    return new WorkflowStep(name, StepKind.WAIT_FOR_CALLBACK, null, timeout, failOnTimeout);
  }
}
