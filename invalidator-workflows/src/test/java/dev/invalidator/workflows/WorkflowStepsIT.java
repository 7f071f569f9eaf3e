package dev.invalidator.workflows;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.InvalidationEvent;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Callback waits, refused and failing steps, dead letters, retry and cancel. */
class WorkflowStepsIT {
  private final WorkflowFixture fx = new WorkflowFixture();

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private WorkflowDefinition confirm() {
    return WorkflowDefinition.builder("confirm")
        .eventTypes("plan.changed")
        .target("a", StepKind.WEBHOOK, fx.webhook("confirm", "a"))
        .callback("confirmed", Duration.ofSeconds(2), true)
        .target("b", StepKind.VENDOR_CALL, fx.webhook("confirm", "b"))
        .build();
  }

  @Test
  void aCallbackCompletesTheWaitAndItsAbsenceTimesOutIntoTheDeadLetters() {
    var engine = fx.start(WorkflowEngine.builder().definition(confirm()));
    InvalidationEvent called = WorkflowFixture.event("acme", "plan.changed");
    InvalidationEvent silent = WorkflowFixture.event("acme", "plan.changed");
    String calledId = WorkflowEngine.workflowId("confirm", called);
    String silentId = WorkflowEngine.workflowId("confirm", silent);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(called);
      engine.engine().submit(silent);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> fx.receiptsByKey().containsKey("confirm.a:" + called.eventId()));
      assertThat(engine.engine().callback(calledId, "confirmed", "{\"ok\":true}")).isTrue();
      await().atMost(Duration.ofSeconds(10)).until(() -> state(admin, calledId).equals("SUCCESS"));
      assertThat(fx.receiptsByKey()).containsEntry("confirm.b:" + called.eventId(), 1L);

      await().atMost(Duration.ofSeconds(10)).until(() -> state(admin, silentId).equals("ERROR"));
      assertThat(fx.receiptsByKey()).doesNotContainKey("confirm.b:" + silent.eventId());
      assertThat(fx.deadLetters).hasSize(1);
      DeadLetter dl = fx.deadLetters.get(0);
      assertThat(dl.target()).isEqualTo("confirm.confirmed");
      assertThat(dl.sourceId()).isEqualTo(silentId);
      assertThat(dl.lastError()).contains("no callback within PT2S");
      assertThat(dl.original()).containsEntry("workflow_step", "confirmed");

      assertThat(engine.engine().callback(calledId, "confirmed", "late")).isFalse(); // finished
      assertThat(engine.engine().callback("confirm:acme:nope", "confirmed", "x")).isFalse();
    } finally {
      engine.kill();
    }
  }

  @Test
  void aRefusedStepGoesToTheDeadLettersAtOnceAndRetryForksAtThatStep() {
    fx.http.stubFor(
        post(urlPathEqualTo("/hooks/b"))
            .willReturn(aResponse().withStatus(400).withBody("bad plan")));
    WorkflowDefinition def =
        WorkflowDefinition.builder("refuse")
            .eventTypes("plan.changed")
            .target("a", StepKind.WEBHOOK, fx.webhook("refuse", "a"))
            .target("b", StepKind.WEBHOOK, fx.webhook("refuse", "b"))
            .maxAttempts(4)
            .retryInterval(Duration.ofMillis(50))
            .build();
    var engine = fx.start(WorkflowEngine.builder().definition(def));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("refuse", e);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      await().atMost(Duration.ofSeconds(10)).until(() -> state(admin, id).equals("ERROR"));
      assertThat(fx.receiptsByKey()).containsEntry("refuse.b:" + e.eventId(), 1L); // no retry
      assertThat(fx.deadLetters)
          .singleElement()
          .satisfies(
              dl -> {
                assertThat(dl.reason()).isEqualTo("rejected");
                assertThat(dl.target()).isEqualTo("refuse.b");
                assertThat(dl.lastError()).contains("400").contains("bad plan");
              });
      assertThat(admin.get(id).orElseThrow().error()).contains("400");

      fx.http.stubFor(post(urlPathEqualTo("/hooks/b")).willReturn(aResponse().withStatus(204)));
      String fork = admin.retry(id);
      assertThat(fork).isEqualTo(id + ":retry-1");
      await().atMost(Duration.ofSeconds(10)).until(() -> state(admin, fork).equals("SUCCESS"));
      assertThat(fx.receiptsByKey())
          .containsEntry("refuse.a:" + e.eventId(), 1L) // copied, not repeated
          .containsEntry("refuse.b:" + e.eventId(), 2L); // the refused call and the retried one
      assertThat(admin.list(new WorkflowAdmin.Filter("acme", "refuse", "SUCCESS", null, null, 10)))
          .extracting(WorkflowAdmin.Summary::id)
          .containsExactly(fork);
      assertThatThrownBy(() -> admin.retry(fork)).hasMessageContaining("succeeded already");
    } finally {
      engine.kill();
    }
  }

  @Test
  void aFailingStepIsRetriedWithBackoffThenDeadLettered() {
    fx.http.stubFor(post(urlPathEqualTo("/hooks/b")).willReturn(aResponse().withStatus(503)));
    WorkflowDefinition def =
        WorkflowDefinition.builder("flaky")
            .eventTypes("plan.changed")
            .target("b", StepKind.WEBHOOK, fx.webhook("flaky", "b"))
            .maxAttempts(3)
            .retryInterval(Duration.ofMillis(100))
            .build();
    var engine = fx.start(WorkflowEngine.builder().definition(def));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("flaky", e);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      await().atMost(Duration.ofSeconds(10)).until(() -> state(admin, id).equals("ERROR"));
      assertThat(fx.receiptsByKey()).containsEntry("flaky.b:" + e.eventId(), 3L);
      var times = fx.requests().stream().map(r -> r.getLoggedDate().toInstant()).toList();
      assertThat(Duration.between(times.get(1), times.get(2)))
          .isGreaterThanOrEqualTo(Duration.ofMillis(200)); // doubled
      assertThat(fx.deadLetters)
          .singleElement()
          .satisfies(
              dl -> {
                assertThat(dl.reason()).isEqualTo("retries_exhausted");
                assertThat(dl.attempts()).isEqualTo(3);
              });
    } finally {
      engine.kill();
    }
  }

  @Test
  void aCancelledWorkflowStopsBeforeItsNextStep() {
    WorkflowDefinition def =
        WorkflowDefinition.builder("slow")
            .eventTypes("plan.changed")
            .target("a", StepKind.WEBHOOK, fx.webhook("slow", "a"))
            .sleep("cooldown", Duration.ofSeconds(3))
            .target("b", StepKind.WEBHOOK, fx.webhook("slow", "b"))
            .build();
    var engine = fx.start(WorkflowEngine.builder().definition(def));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("slow", e);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> fx.receiptsByKey().containsKey("slow.a:" + e.eventId()));
      admin.cancel(id);
      assertThat(state(admin, id)).isEqualTo("CANCELLED");
      assertThatThrownBy(() -> admin.cancel(id)).hasMessageContaining("has finished");
      await()
          .during(Duration.ofSeconds(4))
          .atMost(Duration.ofSeconds(5))
          .until(() -> !fx.receiptsByKey().containsKey("slow.b:" + e.eventId()));
    } finally {
      engine.kill();
    }
  }

  private static String state(WorkflowAdmin admin, String id) {
    return admin.get(id).map(WorkflowAdmin.Summary::state).orElse("");
  }
}
