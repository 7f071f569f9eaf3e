package dev.invalidator.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Target;
import dev.invalidator.workflows.StepKind;
import dev.invalidator.workflows.WorkflowDefinition;
import dev.invalidator.workflows.WorkflowStep;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code workflows.*} as users write it: a YAML list in the file, JSON in the environment. */
class WorkflowsConfigTest {
  @TempDir Path dir;

  private static final Target REDIS =
      new Target() {
        @Override
        public String name() {
          return "redis";
        }

        @Override
        public List<ApplyResult> apply(List<InvalidationEvent> events) {
          return List.of(ApplyResult.APPLIED);
        }
      };

  private static final String YAML =
      """
      targets:
        cdn:
          provider: fastly
          service: svc1
          token: fastly-token
          everyEvent: false
      workflows:
        executorId: daemon-0
        definitions:
          - name: plan-change
            eventTypes: [plan.changed]
            steps:
              - { name: redis, kind: invalidate-redis }
              - { name: cdn, kind: purge-cdn }
              - { name: cooldown, kind: wait, duration: 30s }
              - name: vendor
                kind: vendor-call
                url: https://vendor.example/v1/plans
                secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
                rateLimit: 5/s
              - { name: confirmed, kind: wait-for-callback, timeout: 10m }
      """;

  private InvalidatorConfig load(String yaml, Map<String, String> env) throws Exception {
    Path f = dir.resolve("invalidator.yaml");
    Files.writeString(f, yaml);
    return ConfigLoader.load(f, env, Map.of());
  }

  @Test
  void aYamlListOfWorkflowsIsRead() throws Exception {
    InvalidatorConfig c = load(YAML, Map.of());
    assertThat(c.workflows().enabled()).isTrue();
    assertThat(c.workflows().executorId()).isEqualTo("daemon-0");
    assertThat(c.workflows().schema()).isEqualTo("dbos");
    assertThat(c.targets().build()).isEmpty(); // everyEvent: false, no webhook
    List<WorkflowDefinition> defs = c.workflows().build(c.targets(), () -> REDIS);
    assertThat(defs)
        .singleElement()
        .satisfies(
            d -> {
              assertThat(d.eventTypes()).containsExactly("plan.changed");
              assertThat(d.steps())
                  .extracting(WorkflowStep::kind)
                  .containsExactly(
                      StepKind.INVALIDATE_REDIS,
                      StepKind.PURGE_CDN,
                      StepKind.WAIT,
                      StepKind.VENDOR_CALL,
                      StepKind.WAIT_FOR_CALLBACK);
              assertThat(d.steps().get(1).target().name()).isEqualTo("plan-change.cdn");
              assertThat(d.steps().get(4).duration()).isEqualTo(Duration.ofMinutes(10));
            });
    assertThat(c.workflows().toString()).doesNotContain("whsec_");
  }

  @Test
  void theEnvironmentCarriesTheListAsJson() throws Exception {
    InvalidatorConfig c =
        load(
            "workflows:\n  schema: wf\n",
            Map.of(
                "INVALIDATOR_WORKFLOWS_DEFINITIONS",
                "[{\"name\":\"w\",\"eventTypes\":[\"x\"],\"steps\":[{\"name\":\"pause\",\"kind\":\"wait\",\"duration\":\"1s\"}]}]"));
    assertThat(c.workflows().schema()).isEqualTo("wf");
    assertThat(c.workflows().build(c.targets(), () -> REDIS))
        .extracting(WorkflowDefinition::name)
        .containsExactly("w");
  }

  @Test
  void errorsNameTheSettingInTheList() {
    assertThatThrownBy(() -> load(YAML.replace("duration: 30s", "duration: soon"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("workflows.definitions[0].steps[2].duration")
        .hasMessageContaining("'soon' is not a duration");
    String noCdn = YAML.replaceAll("(?s)targets:.*?everyEvent: false\n", "");
    assertThatThrownBy(() -> load(noCdn, Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("workflows.definitions[0].steps[1]")
        .hasMessageContaining("needs targets.cdn.provider");
    assertThatThrownBy(
            () -> load(YAML.replace("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "plain"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("workflows.definitions[0].steps[3]")
        .hasMessageNotContaining("plain");
    assertThatThrownBy(() -> load("workflows:\n  definitions: {name: w}\n", Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("workflows.definitions")
        .hasMessageContaining("must be a list of workflows");
  }
}
