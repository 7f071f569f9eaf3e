package dev.invalidator.workflows;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Target;
import dev.invalidator.http.WebhookTarget;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A workflow step against a receiver (WireMock) that answers 429 with {@code Retry-After}, or
 * answers too slowly: the step waits the advertised time and then succeeds, or times out and is
 * retried; either way every request of the step carries the same idempotency key ({@code
 * webhook-id}), so the receiver applies its effect once.
 */
class WorkflowStepThrottleIT {
  private final WorkflowFixture fx = new WorkflowFixture();

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  /** The vendor answers the first call 429 with Retry-After: 3, then 204. */
  private void throttleFirstCall() {
    throttleFirstCall(3);
  }

  /** The vendor answers the first call 429 with Retry-After: {@code seconds}, then 204. */
  private void throttleFirstCall(int seconds) {
    fx.http.stubFor(
        post(urlPathEqualTo("/hooks/vendor"))
            .inScenario("throttle")
            .whenScenarioStateIs(Scenario.STARTED)
            .willReturn(
                aResponse().withStatus(429).withHeader("Retry-After", Integer.toString(seconds)))
            .willSetStateTo("open"));
    fx.http.stubFor(
        post(urlPathEqualTo("/hooks/vendor"))
            .inScenario("throttle")
            .whenScenarioStateIs("open")
            .willReturn(aResponse().withStatus(204)));
  }

  private WorkflowDefinition vendor(String name, Target target) {
    // Three attempts 100 ms apart at first: far shorter than the advertised 3 s.
    return WorkflowDefinition.builder(name)
        .eventTypes("plan.changed")
        .target("vendor", StepKind.VENDOR_CALL, target)
        .maxAttempts(3)
        .retryInterval(Duration.ofMillis(100))
        .build();
  }

  @Test
  void aThrottledStepWaitsTheAdvertisedTimeThenSucceedsWithOneEffect() {
    throttleFirstCall();
    WebhookTarget target =
        WebhookTarget.builder()
            .name("throttle.vendor")
            .url(fx.http.baseUrl() + "/hooks/vendor")
            .secret(WorkflowFixture.SECRET)
            .rateLimitWait(WorkflowStep.TARGET_TOKEN_WAIT) // as the daemon builds step targets
            .build();
    var engine = fx.start(WorkflowEngine.builder().definition(vendor("throttle", target)));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("throttle", e);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      await().atMost(Duration.ofSeconds(20)).until(() -> state(admin, id).equals("SUCCESS"));
      List<LoggedRequest> calls = fx.requests();
      assertThat(calls).hasSize(2); // the throttled call and the one that succeeded, no other
      assertThat(calls)
          .extracting(r -> r.getHeader("webhook-id"))
          .containsOnly("throttle.vendor:" + e.eventId());
      Instant first = calls.get(0).getLoggedDate().toInstant();
      Instant second = calls.get(1).getLoggedDate().toInstant();
      assertThat(Duration.between(first, second)).isGreaterThanOrEqualTo(Duration.ofSeconds(3));
      assertThat(fx.deadLetters).isEmpty();
    } finally {
      engine.kill();
    }
  }

  /**
   * Negative control: without the durable wait (the 429 a retryable failure retried by DBOS), a
   * target that waits for a request token only as long as a worker batch may (its 1 s default)
   * spends the step's attempts before the advertised time has passed, and the workflow fails; this
   * is what the step configuration above prevents when the durable wait is off (and on the last
   * round of a step the receiver keeps throttling).
   */
  @Test
  void withAWorkersShortTokenWaitTheThrottledStepSpendsItsAttemptsAndFails() {
    throttleFirstCall();
    var engine =
        fx.start(
            WorkflowEngine.builder()
                .durableThrottleWait(false)
                .definition(
                    vendor(
                        "short",
                        WebhookTarget.builder()
                            .name("short.vendor")
                            .url(fx.http.baseUrl() + "/hooks/vendor")
                            .secret(WorkflowFixture.SECRET)
                            .build())));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("short", e);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      await().atMost(Duration.ofSeconds(20)).until(() -> state(admin, id).equals("ERROR"));
      assertThat(fx.requests()).hasSize(1); // the later attempts got no token: nothing sent
      assertThat(fx.deadLetters)
          .singleElement()
          .satisfies(dl -> assertThat(dl.lastError()).contains("no request token"));
    } finally {
      engine.kill();
    }
  }

  /**
   * The wait a 429 advertised survives a crash: the engine is killed (runtime and pool, as a dying
   * process loses both) while the step waits out Retry-After: 3, and restarted at once; the retry
   * is not sent before the advertised time, and the step's effect arrives under its one key.
   */
  @Test
  void aThrottleWaitSurvivesAKillAndTheRetryIsNotSentBeforeTheAdvertisedTime() throws Exception {
    Duration advertised = Duration.ofSeconds(3);
    throttleFirstCall((int) advertised.toSeconds());
    var engine =
        fx.start(WorkflowEngine.builder().definition(vendor("durable", stepTarget("durable"))));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("durable", e);
    Instant restarted;
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      // Killed once the throttled attempt and the start of its wait are recorded.
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                var steps = admin.steps(id);
                return !steps.isEmpty() && steps.get(steps.size() - 1).name().equals("DBOS.sleep");
              });
      engine.kill();
      engine =
          fx.start(WorkflowEngine.builder().definition(vendor("durable", stepTarget("durable"))));
      restarted = Instant.now();
      await().atMost(Duration.ofSeconds(20)).until(() -> state(admin, id).equals("SUCCESS"));
    } finally {
      engine.kill();
    }
    Instant throttledAt = throttleDeadline(advertised);
    // The restarted engine was up before the advertised time: an immediate retry would be early.
    assertThat(restarted).isBefore(throttledAt);
    List<LoggedRequest> calls = fx.requests();
    assertThat(calls).hasSizeGreaterThanOrEqualTo(2);
    assertThat(calls)
        .extracting(r -> r.getHeader("webhook-id"))
        .containsOnly("durable.vendor:" + e.eventId());
    for (LoggedRequest later : calls.subList(1, calls.size())) {
      assertThat(later.getLoggedDate().toInstant())
          .as("a retry after the 429 of %s", calls.get(0).getLoggedDate().toInstant())
          .isAfterOrEqualTo(throttledAt);
    }
    assertThat(fx.deadLetters).isEmpty();
  }

  /**
   * Negative control: with the wait in memory (the target's token bucket, as before the durable
   * wait), the restarted step has forgotten the 429 and sends its retry at once, before the
   * advertised time; the same check sees it early. Retry-After: 8, so that the restart is far
   * inside the wait on a loaded machine.
   */
  @Test
  void negativeControlAnInMemoryThrottleWaitIsForgottenByAKillAndTheRetryComesEarly()
      throws Exception {
    Duration advertised = Duration.ofSeconds(8);
    throttleFirstCall((int) advertised.toSeconds());
    WorkflowEngine.Builder inMemory =
        WorkflowEngine.builder()
            .durableThrottleWait(false)
            .definition(vendor("mem", stepTarget("mem")));
    var engine = fx.start(inMemory);
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("mem", e);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      await().atMost(Duration.ofSeconds(10)).until(() -> fx.requests().size() == 1);
      Thread.sleep(300); // the step now waits for its token, in memory
      engine.kill();
      engine =
          fx.start(
              WorkflowEngine.builder()
                  .durableThrottleWait(false)
                  .definition(vendor("mem", stepTarget("mem"))));
      await().atMost(Duration.ofSeconds(20)).until(() -> state(admin, id).equals("SUCCESS"));
    } finally {
      engine.kill();
    }
    Instant throttledAt = throttleDeadline(advertised);
    List<LoggedRequest> calls = fx.requests();
    assertThat(calls).hasSizeGreaterThanOrEqualTo(2);
    assertThat(calls.get(1).getLoggedDate().toInstant()).isBefore(throttledAt);
  }

  /** A step target as the daemon builds it (a request token waited for up to 60 s). */
  private WebhookTarget stepTarget(String workflow) {
    return WebhookTarget.builder()
        .name(workflow + ".vendor")
        .url(fx.http.baseUrl() + "/hooks/vendor")
        .secret(WorkflowFixture.SECRET)
        .rateLimitWait(WorkflowStep.TARGET_TOKEN_WAIT)
        .build();
  }

  /** When the first (throttled) call was received plus the advertised wait. */
  private Instant throttleDeadline(Duration advertised) {
    return fx.requests().get(0).getLoggedDate().toInstant().plus(advertised);
  }

  @Test
  void aResponseSlowerThanTheStepTimeoutIsRetriedUnderTheSameIdempotencyKey() {
    fx.http.stubFor(
        post(urlPathEqualTo("/hooks/vendor"))
            .inScenario("slow")
            .whenScenarioStateIs(Scenario.STARTED)
            .willReturn(aResponse().withStatus(204).withFixedDelay(5_000))
            .willSetStateTo("fast"));
    fx.http.stubFor(
        post(urlPathEqualTo("/hooks/vendor"))
            .inScenario("slow")
            .whenScenarioStateIs("fast")
            .willReturn(aResponse().withStatus(204)));
    WebhookTarget target =
        WebhookTarget.builder()
            .name("slow.vendor")
            .url(fx.http.baseUrl() + "/hooks/vendor")
            .secret(WorkflowFixture.SECRET)
            .requestTimeout(Duration.ofMillis(500))
            .rateLimitWait(WorkflowStep.TARGET_TOKEN_WAIT)
            .build();
    var engine = fx.start(WorkflowEngine.builder().definition(vendor("slow", target)));
    InvalidationEvent e = WorkflowFixture.event("acme", "plan.changed");
    String id = WorkflowEngine.workflowId("slow", e);
    try (WorkflowAdmin admin = fx.admin()) {
      engine.engine().submit(e);
      await().atMost(Duration.ofSeconds(20)).until(() -> state(admin, id).equals("SUCCESS"));
      List<LoggedRequest> calls = fx.requests();
      assertThat(calls).hasSize(2);
      // Both carry the same key and the same signed body: a receiver that keys its effect by
      // webhook-id applies it once, although it answered the first call (too late).
      assertThat(calls)
          .extracting(r -> r.getHeader("webhook-id"))
          .containsOnly("slow.vendor:" + e.eventId());
      assertThat(calls.get(1).getBodyAsString()).isEqualTo(calls.get(0).getBodyAsString());
      // The step gave up on the slow call at its timeout, long before the 5 s answer.
      Instant first = calls.get(0).getLoggedDate().toInstant();
      Instant second = calls.get(1).getLoggedDate().toInstant();
      assertThat(Duration.between(first, second)).isLessThan(Duration.ofSeconds(5));
      assertThat(fx.deadLetters).isEmpty();
    } finally {
      engine.kill();
    }
  }

  private static String state(WorkflowAdmin admin, String id) {
    return admin.get(id).map(WorkflowAdmin.Summary::state).orElse("");
  }
}
