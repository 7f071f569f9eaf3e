package dev.invalidator.workflows;

/**
 * A target-calling step as configured, handed to a {@link WorkflowConfig.StepTargets} to build its
 * target.
 *
 * @param workflow the workflow's name
 * @param name the step's name
 * @param kind a target-calling kind
 * @param url the receiver of a {@code webhook} or {@code vendor-call} step, else empty
 * @param secret its Standard Webhooks secret ({@code whsec_...}), else empty; never logged
 * @param rateLimit requests per second of a {@code vendor-call} step, 0 for the target's default
 */
public record StepConfig(
    String workflow, String name, StepKind kind, String url, String secret, double rateLimit) {

  /**
   * The name the step's target must carry: {@code <workflow>.<step>}. HTTP targets send it in their
   * idempotency key ({@code webhook-id: <workflow>.<step>:<event id>}), so the key names the step
   * of the workflow of the event, stable across retries, crashes and redeliveries.
   */
  public String targetName() {
    return workflow + "." + name;
  }

  @Override
  public String toString() {
    return "StepConfig[" + targetName() + ", " + kind.label() + ", url=" + url + "]";
  }
}
