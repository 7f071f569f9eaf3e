package dev.invalidator.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.Target;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WorkflowConfigTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final List<StepConfig> built = new ArrayList<>();

  private Target target(StepConfig step) {
    built.add(step);
    return new Target() {
      @Override
      public String name() {
        return step.targetName();
      }

      @Override
      public List<ApplyResult> apply(List<dev.invalidator.core.InvalidationEvent> events) {
        return List.of(ApplyResult.APPLIED);
      }
    };
  }

  private List<WorkflowDefinition> parse(String json) throws Exception {
    JsonNode node = JSON.readTree(json.replace('\'', '"'));
    return WorkflowConfig.parse(node, "workflows.definitions", this::target);
  }

  @Test
  void aFullDefinitionIsRead() throws Exception {
    List<WorkflowDefinition> defs =
        parse(
            "[{'name':'plan-change','eventTypes':['plan.changed'],'maxAttempts':3,'retryInterval':'2s',"
                + "'steps':[{'name':'redis','kind':'invalidate-redis'},{'name':'cdn','kind':'purge-cdn'},"
                + "{'name':'projection','kind':'webhook','url':'https://p/hook','secret':'whsec_x'},"
                + "{'name':'cooldown','kind':'wait','duration':'30s'},"
                + "{'name':'vendor','kind':'vendor-call','url':'https://v/api','rateLimit':'5/s'},"
                + "{'name':'confirmed','kind':'wait-for-callback','timeout':'10m','onTimeout':'continue'}]}]");
    WorkflowDefinition d = defs.get(0);
    assertThat(d.name()).isEqualTo("plan-change");
    assertThat(d.eventTypes()).containsExactly("plan.changed");
    assertThat(d.maxAttempts()).isEqualTo(3);
    assertThat(d.retryInterval()).isEqualTo(Duration.ofSeconds(2));
    assertThat(d.steps())
        .extracting(WorkflowStep::kind)
        .containsExactly(
            StepKind.INVALIDATE_REDIS,
            StepKind.PURGE_CDN,
            StepKind.WEBHOOK,
            StepKind.WAIT,
            StepKind.VENDOR_CALL,
            StepKind.WAIT_FOR_CALLBACK);
    assertThat(d.steps().get(3).duration()).isEqualTo(Duration.ofSeconds(30));
    assertThat(d.steps().get(5).failOnTimeout()).isFalse();
    assertThat(built)
        .extracting(StepConfig::targetName)
        .containsExactly(
            "plan-change.redis", "plan-change.cdn", "plan-change.projection", "plan-change.vendor");
    assertThat(built.get(3).rateLimit()).isEqualTo(5.0);
    assertThat(built.get(2).toString()).doesNotContain("whsec_x");
  }

  @Test
  void errorsNameTheSetting() {
    String ok = "{'name':'a','kind':'invalidate-redis'}";
    assertError("{}", "workflows.definitions: must be a list of workflows");
    assertError(
        "[{'eventTypes':['x'],'steps':[" + ok + "]}]",
        "workflows.definitions[0].name: is required");
    assertError(
        "[{'name':'Bad Name','eventTypes':['x'],'steps':[" + ok + "]}]",
        "workflows.definitions[0].name: 'Bad Name' must be");
    assertError(
        "[{'name':'w','steps':[" + ok + "]}]",
        "workflows.definitions[0].eventTypes: must be a non-empty list");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[]}]",
        "workflows.definitions[0].steps: must be a non-empty list");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[{'name':'a','kind':'teleport'}]}]",
        "workflows.definitions[0].steps[0].kind: unknown step kind 'teleport'; one of invalidate-redis, purge-cdn");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[{'name':'a','kind':'wait'}]}]",
        "workflows.definitions[0].steps[0].duration: is required");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[{'name':'a','kind':'wait','duration':'soon'}]}]",
        "workflows.definitions[0].steps[0].duration: 'soon' is not a duration");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[{'name':'a','kind':'wait-for-callback','timeout':'1m','onTimeout':'shrug'}]}]",
        "workflows.definitions[0].steps[0].onTimeout: must be fail or continue");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[{'name':'a','kind':'webhook'}]}]",
        "workflows.definitions[0].steps[0].url: is required for a webhook step");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[{'name':'a','kind':'vendor-call','url':'https://v','rateLimit':'fast'}]}]",
        "workflows.definitions[0].steps[0].rateLimit: must be requests per second");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[{'name':'a','kind':'invalidate-redis','duration':'1s'}]}]",
        "workflows.definitions[0].steps[0].duration: unknown setting here; known: [kind, name]");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':[" + ok + "," + ok + "]}]",
        "workflows.definitions[0]: workflow w: step name 'a' is used twice");
    assertError(
        "[{'name':'w','eventTypes':['x'],'maxAttempts':0,'steps':[" + ok + "]}]",
        "workflows.definitions[0].maxAttempts: must be a whole number from 1 to 100");
    assertError(
        "[{'name':'w','eventTypes':['x'],'steps':["
            + ok
            + "]},{'name':'w','eventTypes':['y'],'steps':["
            + ok
            + "]}]",
        "workflows.definitions[1].name: 'w' is used twice");
    assertError(
        "[{'name':'w','eventTypes':['x'],'colour':'red','steps':[" + ok + "]}]",
        "workflows.definitions[0].colour: unknown setting here");
  }

  @Test
  void aTargetThatCannotBeBuiltIsReportedAtItsStep() throws Exception {
    JsonNode node =
        JSON.readTree(
            "[{\"name\":\"w\",\"eventTypes\":[\"x\"],\"steps\":[{\"name\":\"cdn\",\"kind\":\"purge-cdn\"}]}]");
    assertThatThrownBy(
            () ->
                WorkflowConfig.parse(
                    node,
                    "workflows.definitions",
                    s -> {
                      throw new IllegalArgumentException("targets.cdn is not configured");
                    }))
        .hasMessage("workflows.definitions[0].steps[0]: targets.cdn is not configured");
  }

  private void assertError(String json, String message) {
    assertThatThrownBy(() -> parse(json))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(message);
  }
}
