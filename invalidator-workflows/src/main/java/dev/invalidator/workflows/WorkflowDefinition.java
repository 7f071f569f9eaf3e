package dev.invalidator.workflows;

import dev.invalidator.core.Target;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A workflow: the ordered steps an event of one of its event types starts. The steps of a workflow
 * that is under way must not change (a restart replays the finished ones by position and name); add
 * a workflow under a new name instead.
 *
 * <pre>{@code
 * WorkflowDefinition plan = WorkflowDefinition.builder("plan-change")
 *     .eventTypes("plan.changed")
 *     .target("redis", StepKind.INVALIDATE_REDIS, redisTarget)
 *     .sleep("cooldown", Duration.ofSeconds(30))
 *     .target("vendor", StepKind.VENDOR_CALL, vendorTarget)
 *     .build();
 * }</pre>
 */
public final class WorkflowDefinition {
  static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,29}");

  private final String name;
  private final Set<String> eventTypes;
  private final List<WorkflowStep> steps;
  private final int maxAttempts;
  private final Duration retryInterval;

  private WorkflowDefinition(Builder b) {
    this.name = b.name;
    this.eventTypes = Set.copyOf(b.eventTypes);
    this.steps = List.copyOf(b.steps);
    this.maxAttempts = b.maxAttempts;
    this.retryInterval = b.retryInterval;
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** The workflow's name, the first part of its workflow ids. */
  public String name() {
    return name;
  }

  /** The event types that start it. */
  public Set<String> eventTypes() {
    return eventTypes;
  }

  public List<WorkflowStep> steps() {
    return steps;
  }

  /** Attempts of a target-calling step before its event goes to the dead letters. */
  public int maxAttempts() {
    return maxAttempts;
  }

  /** The wait before a step's second attempt; it doubles with each further attempt. */
  public Duration retryInterval() {
    return retryInterval;
  }

  @Override
  public String toString() {
    return "WorkflowDefinition[" + name + " on " + eventTypes + ", " + steps.size() + " steps]";
  }

  /** Builds a {@link WorkflowDefinition}; {@link #build()} checks every value. */
  public static final class Builder {
    /** Default attempts of a target-calling step. */
    public static final int DEFAULT_MAX_ATTEMPTS = 5;

    /** Default wait before the second attempt. */
    public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofSeconds(1);

    private final String name;
    private final Set<String> eventTypes = new LinkedHashSet<>();
    private final List<WorkflowStep> steps = new ArrayList<>();
    private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
    private Duration retryInterval = DEFAULT_RETRY_INTERVAL;

    private Builder(String name) {
      this.name = name;
    }

    /** Required: the event types that start this workflow. */
    public Builder eventTypes(String... types) {
      eventTypes.addAll(List.of(types));
      return this;
    }

    public Builder step(WorkflowStep step) {
      steps.add(Objects.requireNonNull(step, "step"));
      return this;
    }

    public Builder target(String step, StepKind kind, Target target) {
      return step(WorkflowStep.target(step, kind, target));
    }

    public Builder sleep(String step, Duration duration) {
      return step(WorkflowStep.sleep(step, duration));
    }

    public Builder callback(String step, Duration timeout, boolean failOnTimeout) {
      return step(WorkflowStep.callback(step, timeout, failOnTimeout));
    }

    public Builder maxAttempts(int maxAttempts) {
      this.maxAttempts = maxAttempts;
      return this;
    }

    public Builder retryInterval(Duration retryInterval) {
      this.retryInterval = retryInterval;
      return this;
    }

    public WorkflowDefinition build() {
      if (name == null || !NAME.matcher(name).matches()) {
        throw new IllegalArgumentException(
            "workflow name '" + name + "' must be 1-30 characters of a-z, 0-9 and '-'");
      }
      if (eventTypes.isEmpty()) {
        throw new IllegalArgumentException("workflow " + name + ": eventTypes is empty");
      }
      if (steps.isEmpty()) {
        throw new IllegalArgumentException("workflow " + name + ": steps is empty");
      }
      Set<String> seen = new HashSet<>();
      for (WorkflowStep s : steps) {
        if (!seen.add(s.name())) {
          throw new IllegalArgumentException(
              "workflow " + name + ": step name '" + s.name() + "' is used twice");
        }
      }
      if (maxAttempts < 1 || maxAttempts > 100) {
        throw new IllegalArgumentException(
            "workflow " + name + ": maxAttempts must be 1-100, got " + maxAttempts);
      }
      if (retryInterval == null || retryInterval.isNegative() || retryInterval.isZero()) {
        throw new IllegalArgumentException("workflow " + name + ": retryInterval must be > 0");
      }
      return new WorkflowDefinition(this);
    }
  }
}
