package dev.invalidator.workflows;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;

/**
 * Step metrics: {@code invalidator_workflow_step_seconds{workflow,step,kind,result}} (a timer per
 * attempt; {@code result} is {@code ok}, {@code retry}, {@code failed} or {@code timeout}), {@code
 * invalidator_workflows_started_total{workflow}}, {@code
 * invalidator_workflow_dead_letters_total{workflow,step}} and {@code
 * invalidator_dedupe_hits_total{target="workflows"}} for redelivered events whose workflow existed.
 * Workflow counts by state are {@link WorkflowAdmin#bindStateGauges}.
 */
final class WorkflowMetrics {
  private final MeterRegistry registry;

  WorkflowMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  void stepFinished(String workflow, WorkflowStep step, String result, long nanos) {
    Timer.builder("invalidator.workflow.step")
        .description("Duration of one attempt of a workflow step")
        .tags("workflow", workflow, "step", step.name(), "kind", step.kind().label())
        .tag("result", result)
        .register(registry)
        .record(Duration.ofNanos(nanos));
  }

  void started(String workflow) {
    Counter.builder("invalidator.workflows.started")
        .description("Workflows started")
        .tag("workflow", workflow)
        .register(registry)
        .increment();
  }

  void duplicate() {
    Counter.builder("invalidator.dedupe.hits")
        .tag("target", "workflows")
        .register(registry)
        .increment();
  }

  void deadLettered(String workflow, WorkflowStep step) {
    Counter.builder("invalidator.workflow.dead.letters")
        .description("Workflow steps that failed for good, their event in the dead letters")
        .tags("workflow", workflow, "step", step.name())
        .register(registry)
        .increment();
  }
}
