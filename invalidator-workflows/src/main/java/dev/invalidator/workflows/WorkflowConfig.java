package dev.invalidator.workflows;

import com.fasterxml.jackson.databind.JsonNode;
import dev.invalidator.core.Target;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads workflow definitions from configuration (the {@code workflows.definitions} list of the
 * daemon's YAML file). Every error names the setting's path, e.g. {@code
 * workflows.definitions[0].steps[2].timeout}.
 */
public final class WorkflowConfig {

  /** Builds the target of a configured target-calling step. */
  @FunctionalInterface
  public interface StepTargets {
    /**
     * The target of {@code step}; it must be named {@link StepConfig#targetName()}.
     *
     * @throws IllegalArgumentException when the step cannot have one (say why)
     */
    Target build(StepConfig step);
  }

  private static final Set<String> WORKFLOW_KEYS =
      Set.of("name", "eventTypes", "steps", "maxAttempts", "retryInterval");
  private static final Map<StepKind, Set<String>> STEP_KEYS =
      Map.of(
          StepKind.INVALIDATE_REDIS, Set.of(),
          StepKind.PURGE_CDN, Set.of(),
          StepKind.WEBHOOK, Set.of("url", "secret"),
          StepKind.VENDOR_CALL, Set.of("url", "secret", "rateLimit"),
          StepKind.WAIT, Set.of("duration"),
          StepKind.WAIT_FOR_CALLBACK, Set.of("timeout", "onTimeout"));
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");
  private static final Pattern RATE = Pattern.compile("(\\d+(?:\\.\\d+)?)(?:/s)?");

  private WorkflowConfig() {}

  /**
   * The definitions in {@code list} (null or missing for none).
   *
   * @param path the setting's name in messages, e.g. {@code workflows.definitions}
   * @throws IllegalArgumentException naming the offending setting
   */
  public static List<WorkflowDefinition> parse(JsonNode list, String path, StepTargets targets) {
    List<WorkflowDefinition> out = new ArrayList<>();
    if (list == null || list.isNull() || list.isMissingNode()) {
      return out;
    }
    if (!list.isArray()) {
      throw error(path, "must be a list of workflows");
    }
    for (int i = 0; i < list.size(); i++) {
      out.add(workflow(list.get(i), path + "[" + i + "]", targets));
    }
    java.util.Set<String> names = new java.util.HashSet<>();
    for (int i = 0; i < out.size(); i++) {
      if (!names.add(out.get(i).name())) {
        throw error(path + "[" + i + "].name", "'" + out.get(i).name() + "' is used twice");
      }
    }
    return out;
  }

  private static WorkflowDefinition workflow(JsonNode node, String path, StepTargets targets) {
    if (!node.isObject()) {
      throw error(path, "must be a map with name, eventTypes and steps");
    }
    checkKeys(node, path, WORKFLOW_KEYS);
    String name = text(node, path, "name", true);
    if (!WorkflowDefinition.NAME.matcher(name).matches()) {
      throw error(path + ".name", "'" + name + "' must be 1-30 characters of a-z, 0-9 and '-'");
    }
    WorkflowDefinition.Builder b = WorkflowDefinition.builder(name);
    JsonNode types = node.get("eventTypes");
    if (types == null || !types.isArray() || types.isEmpty()) {
      throw error(path + ".eventTypes", "must be a non-empty list of event types");
    }
    for (JsonNode t : types) {
      b.eventTypes(t.asText());
    }
    if (node.has("maxAttempts")) {
      JsonNode m = node.get("maxAttempts");
      if (!m.canConvertToInt() || m.asInt() < 1 || m.asInt() > 100) {
        throw error(path + ".maxAttempts", "must be a whole number from 1 to 100, got " + m);
      }
      b.maxAttempts(m.asInt());
    }
    if (node.has("retryInterval")) {
      b.retryInterval(duration(path + ".retryInterval", node.get("retryInterval").asText()));
    }
    JsonNode steps = node.get("steps");
    if (steps == null || !steps.isArray() || steps.isEmpty()) {
      throw error(path + ".steps", "must be a non-empty list of steps");
    }
    for (int i = 0; i < steps.size(); i++) {
      b.step(step(name, steps.get(i), path + ".steps[" + i + "]", targets));
    }
    try {
      return b.build();
    } catch (IllegalArgumentException e) {
      throw error(path, e.getMessage());
    }
  }

  private static WorkflowStep step(
      String workflow, JsonNode node, String path, StepTargets targets) {
    if (!node.isObject()) {
      throw error(path, "must be a map with name and kind");
    }
    String name = text(node, path, "name", true);
    if (!WorkflowStep.NAME.matcher(name).matches()) {
      throw error(path + ".name", "'" + name + "' must be 1-30 characters of a-z, 0-9 and '-'");
    }
    StepKind kind;
    try {
      kind = StepKind.fromLabel(text(node, path, "kind", true));
    } catch (IllegalArgumentException e) {
      throw error(path + ".kind", e.getMessage());
    }
    Set<String> allowed = new java.util.HashSet<>(STEP_KEYS.get(kind));
    allowed.add("name");
    allowed.add("kind");
    checkKeys(node, path, allowed);
    switch (kind) {
      case WAIT -> {
        return WorkflowStep.sleep(
            name, duration(path + ".duration", text(node, path, "duration", true)));
      }
      case WAIT_FOR_CALLBACK -> {
        Duration timeout = duration(path + ".timeout", text(node, path, "timeout", true));
        String onTimeout = text(node, path, "onTimeout", false).toLowerCase(Locale.ROOT);
        if (!onTimeout.isEmpty() && !onTimeout.equals("fail") && !onTimeout.equals("continue")) {
          throw error(path + ".onTimeout", "must be fail or continue, got '" + onTimeout + "'");
        }
        return WorkflowStep.callback(name, timeout, !onTimeout.equals("continue"));
      }
      default -> {
        double rate = 0;
        if (node.has("rateLimit")) {
          Matcher m = RATE.matcher(node.get("rateLimit").asText().trim());
          if (!m.matches() || Double.parseDouble(m.group(1)) <= 0) {
            throw error(path + ".rateLimit", "must be requests per second such as 5 or 5/s");
          }
          rate = Double.parseDouble(m.group(1));
        }
        StepConfig config =
            new StepConfig(
                workflow,
                name,
                kind,
                text(node, path, "url", false),
                text(node, path, "secret", false),
                rate);
        if ((kind == StepKind.WEBHOOK || kind == StepKind.VENDOR_CALL) && config.url().isEmpty()) {
          throw error(path + ".url", "is required for a " + kind.label() + " step");
        }
        Target target;
        try {
          target = targets.build(config);
        } catch (IllegalArgumentException e) {
          throw error(path, e.getMessage());
        }
        return WorkflowStep.target(name, kind, target);
      }
    }
  }

  private static void checkKeys(JsonNode node, String path, Set<String> allowed) {
    Iterator<String> it = node.fieldNames();
    while (it.hasNext()) {
      String k = it.next();
      if (!allowed.contains(k)) {
        throw error(
            path + "." + k, "unknown setting here; known: " + new java.util.TreeSet<>(allowed));
      }
    }
  }

  private static String text(JsonNode node, String path, String key, boolean required) {
    JsonNode v = node.get(key);
    if (v == null || v.isNull() || v.asText().isBlank()) {
      if (required) {
        throw error(path + "." + key, "is required");
      }
      return "";
    }
    if (!v.isValueNode()) {
      throw error(path + "." + key, "must be a single value");
    }
    return v.asText().trim();
  }

  static Duration duration(String path, String text) {
    Matcher m = DURATION.matcher(text.trim());
    if (!m.matches()) {
      throw error(path, "'" + text + "' is not a duration such as 250ms, 30s, 5m, 2h or 1d");
    }
    long n = Long.parseLong(m.group(1));
    Duration d =
        switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(n);
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          case "h" -> Duration.ofHours(n);
          default -> Duration.ofDays(n);
        };
    if (d.isZero()) {
      throw error(path, "must be positive");
    }
    return d;
  }

  private static IllegalArgumentException error(String path, String message) {
    return new IllegalArgumentException(path + ": " + message);
  }
}
