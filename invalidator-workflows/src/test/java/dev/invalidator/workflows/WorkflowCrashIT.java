package dev.invalidator.workflows;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.InvalidationEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Kills the engine (DBOS runtime and its connection pool, as a dying process loses both) while its
 * workflow waits between steps, 12 times over three workflows, and restarts it: every workflow
 * completes, and every step's effect arrives exactly once at the receiver, by its idempotency key.
 * The negative control kills during a step's HTTP call: that step runs again on recovery, and the
 * same check sees its key twice.
 */
class WorkflowCrashIT {
  private static final List<String> CALLS = List.of("a", "b", "c", "d", "e");
  private static final Duration PAUSE = Duration.ofMillis(600);

  private final WorkflowFixture fx = new WorkflowFixture();

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private WorkflowDefinition crashy() {
    WorkflowDefinition.Builder b = WorkflowDefinition.builder("crashy").eventTypes("plan.changed");
    for (int i = 0; i < CALLS.size(); i++) {
      b.target(CALLS.get(i), StepKind.WEBHOOK, fx.webhook("crashy", CALLS.get(i)));
      if (i < CALLS.size() - 1) {
        b.sleep("pause-" + i, PAUSE);
      }
    }
    return b.build();
  }

  @Test
  void killedBetweenStepsManyTimesEveryStepTakesEffectExactlyOnce() {
    List<InvalidationEvent> events = new ArrayList<>();
    int kills = 0;
    var engine = fx.start(WorkflowEngine.builder().definition(crashy()));
    try (WorkflowAdmin admin = fx.admin()) {
      // One workflow at a time, so each of its four pauses is a kill: 12 kills expected. (Several
      // at once rarely sleep at the same moment.)
      for (int batch = 0; batch < 3; batch++) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 1; i++) {
          InvalidationEvent e = WorkflowFixture.event("t" + i, "plan.changed");
          events.add(e);
          ids.add(WorkflowEngine.workflowId("crashy", e));
          engine.engine().submit(e);
        }
        Instant deadline = Instant.now().plusSeconds(30);
        while (!allSucceeded(admin, ids)) {
          assertThat(Instant.now()).as("workflows done before the deadline").isBefore(deadline);
          if (allBetweenSteps(admin, ids)) {
            engine.kill();
            kills++;
            engine = fx.start(WorkflowEngine.builder().definition(crashy()));
          } else {
            pause(Duration.ofMillis(20));
          }
        }
      }
    } finally {
      engine.kill();
    }
    assertThat(kills).isGreaterThanOrEqualTo(8);
    Map<String, Long> receipts = fx.receiptsByKey();
    for (InvalidationEvent e : events) {
      for (String call : CALLS) {
        assertThat(receipts.get("crashy." + call + ":" + e.eventId()))
            .as("receipts of step %s of %s after %d kills", call, e.eventId(), kills)
            .isEqualTo(1L);
      }
    }
    assertThat(receipts).hasSize(events.size() * CALLS.size());
  }

  @Test
  void negativeControlKilledDuringAStepsCallTheStepRunsAgainAndTheCheckSeesItTwice() {
    fx.http.stubFor(
        post(urlPathEqualTo("/hooks/b"))
            .willReturn(aResponse().withStatus(204).withFixedDelay(1500)));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("crashy", e);
    var engine = fx.start(WorkflowEngine.builder().definition(crashy()));
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      // b's call is under way once the first pause is over and b has no record yet.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                var steps = admin.steps(id);
                return steps.size() == 2
                    && steps.get(1).name().equals("DBOS.sleep")
                    && steps.get(1).startedAt().plus(PAUSE).plusMillis(400).isBefore(Instant.now());
              });
      engine.kill();
      engine = fx.start(WorkflowEngine.builder().definition(crashy()));
      await().atMost(Duration.ofSeconds(30)).until(() -> allSucceeded(admin, List.of(id)));
    } finally {
      engine.kill();
    }
    Map<String, Long> receipts = fx.receiptsByKey();
    // At least twice: the interrupted call (in this in-process kill, the dying runtime's thread
    // may even send it once more before it notices) and the recovered one.
    assertThat(receipts.get("crashy.b:" + e.eventId())).isGreaterThanOrEqualTo(2L);
    assertThat(receipts.get("crashy.a:" + e.eventId())).isEqualTo(1L);
    assertThat(receipts.get("crashy.c:" + e.eventId())).isEqualTo(1L);
  }

  private static boolean allSucceeded(WorkflowAdmin admin, List<String> ids) {
    return ids.stream()
        .allMatch(id -> admin.get(id).map(s -> s.state().equals("SUCCESS")).orElse(false));
  }

  /**
   * True when every unfinished workflow sleeps in a pause it began less than 250 ms ago (so none
   * wakes up while the kill runs), and at least one is unfinished.
   */
  private static boolean allBetweenSteps(WorkflowAdmin admin, List<String> ids) {
    boolean anyUnfinished = false;
    for (String id : ids) {
      String state = admin.get(id).map(WorkflowAdmin.Summary::state).orElse("");
      if (state.equals("SUCCESS")) {
        continue;
      }
      anyUnfinished = true;
      var steps = admin.steps(id);
      if (steps.isEmpty()) {
        return false;
      }
      var last = steps.get(steps.size() - 1);
      if (!last.name().equals("DBOS.sleep")
          || last.startedAt() == null
          || last.startedAt().plusMillis(250).isBefore(Instant.now())) {
        return false;
      }
    }
    return anyUnfinished;
  }

  private static void pause(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
