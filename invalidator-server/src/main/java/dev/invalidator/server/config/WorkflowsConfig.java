package dev.invalidator.server.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Target;
import dev.invalidator.http.WebhookTarget;
import dev.invalidator.workflows.StepConfig;
import dev.invalidator.workflows.WorkflowConfig;
import dev.invalidator.workflows.WorkflowDefinition;
import dev.invalidator.workflows.WorkflowStep;
import java.util.List;
import java.util.function.Supplier;

/**
 * {@code workflows.*}: durable multi-step workflows (see {@code invalidator-workflows}).
 *
 * @param definitions the {@code workflows.definitions} list as JSON text; empty for none
 */
public record WorkflowsConfig(
    String definitions, String schema, String executorId, int concurrency) {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final String SETTING = "workflows.definitions";

  /** True when at least one workflow is configured. */
  public boolean enabled() {
    return !definitions.isBlank() && !definitions.equals("[]");
  }

  /**
   * The definitions, their steps' targets built: {@code invalidate-redis} steps get {@code redis},
   * {@code purge-cdn} steps a CDN target from {@code targets.cdn.*}, {@code webhook} and {@code
   * vendor-call} steps a Standard Webhooks target of their own.
   */
  public List<WorkflowDefinition> build(TargetsConfig targets, Supplier<Target> redis) {
    if (!enabled()) {
      return List.of();
    }
    JsonNode node;
    try {
      node = JSON.readTree(definitions);
    } catch (JsonProcessingException e) {
      throw new ConfigException(
          SETTING, "is not a YAML list or JSON array: " + e.getOriginalMessage());
    }
    try {
      return WorkflowConfig.parse(node, SETTING, step -> target(step, targets, redis));
    } catch (IllegalArgumentException e) {
      String msg = String.valueOf(e.getMessage());
      int colon = msg.indexOf(": ");
      throw colon > 0
          ? new ConfigException(msg.substring(0, colon), msg.substring(colon + 2))
          : new ConfigException(SETTING, msg);
    }
  }

  /** Checks every definition and builds (and drops) every step's target. */
  void validate(TargetsConfig targets) {
    build(targets, () -> PLACEHOLDER);
  }

  private static Target target(StepConfig step, TargetsConfig targets, Supplier<Target> redis) {
    return switch (step.kind()) {
      case INVALIDATE_REDIS -> redis.get();
      case PURGE_CDN -> {
        if (!targets.cdn().configured()) {
          throw new IllegalArgumentException(
              "a purge-cdn step needs targets.cdn.provider and the other targets.cdn settings");
        }
        // A step waits out a provider's Retry-After instead of spending its attempts on it.
        yield targets
            .cdn()
            .builder()
            .name(step.targetName())
            .rateLimitWait(WorkflowStep.TARGET_TOKEN_WAIT)
            .build();
      }
      case WEBHOOK, VENDOR_CALL -> {
        WebhookTarget.Builder b =
            WebhookTarget.builder()
                .name(step.targetName())
                .url(step.url())
                .secret(step.secret())
                .rateLimitWait(WorkflowStep.TARGET_TOKEN_WAIT);
        if (step.rateLimit() > 0) {
          b.rateLimit(step.rateLimit());
        }
        yield b.build();
      }
      default -> throw new IllegalArgumentException(step.kind().label() + " has no target");
    };
  }

  private static final Target PLACEHOLDER =
      new Target() {
        @Override
        public String name() {
          return "redis";
        }

        @Override
        public List<ApplyResult> apply(List<InvalidationEvent> events) {
          throw new UnsupportedOperationException("validation only");
        }
      };

  @Override
  public String toString() {
    // The definitions carry webhook secrets: only their size is shown.
    return "WorkflowsConfig[definitions="
        + definitions.length()
        + " chars, schema="
        + schema
        + ", executorId="
        + executorId
        + ", concurrency="
        + concurrency
        + "]";
  }
}
