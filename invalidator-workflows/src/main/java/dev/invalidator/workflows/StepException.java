package dev.invalidator.workflows;

import dev.invalidator.core.InvalidatorException;

/**
 * A workflow step failed: retryable (a 5xx, a timeout, a throttle, an unreachable target) or
 * permanent (the target refused the event). Carries only strings, so the engine can record it with
 * the step and raise it again when a restart replays the step.
 */
public final class StepException extends InvalidatorException {
  private static final long serialVersionUID = 1L;

  public StepException(String message, boolean retryable) {
    super(message, retryable);
  }
}
