package dev.invalidator.workflows;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.TraceContext;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class WorkflowEngineIT {
  private final WorkflowFixture fx = new WorkflowFixture();

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  private WorkflowDefinition planChange() {
    return WorkflowDefinition.builder("plan-change")
        .eventTypes("plan.changed")
        .target("projection", StepKind.WEBHOOK, fx.webhook("plan-change", "projection"))
        .sleep("cooldown", Duration.ofMillis(300))
        .target("vendor", StepKind.VENDOR_CALL, fx.webhook("plan-change", "vendor"))
        .build();
  }

  @Test
  void stepsRunInOrderWithTheirIdempotencyKeysAndSpansInTheEventsTrace() {
    InMemorySpanExporter spans = InMemorySpanExporter.create();
    OpenTelemetrySdk otel =
        OpenTelemetrySdk.builder()
            .setTracerProvider(
                SdkTracerProvider.builder()
                    .addSpanProcessor(SimpleSpanProcessor.create(spans))
                    .build())
            .build();
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    var engine =
        fx.start(
            WorkflowEngine.builder()
                .definition(planChange())
                .meterRegistry(meters)
                .openTelemetry(otel));
    String traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    String parentSpan = "00f067aa0ba902b7";
    InvalidationEvent event =
        WorkflowFixture.event(
            "acme",
            "plan.changed",
            TraceContext.of("00-" + traceId + "-" + parentSpan + "-01", null));
    String id = WorkflowEngine.workflowId("plan-change", event);
    try (WorkflowAdmin admin = fx.admin()) {
      assertThat(engine.engine().submit(event))
          .containsExactly(new WorkflowEngine.Submission(id, true));
      await().atMost(Duration.ofSeconds(20)).until(() -> state(admin, id).equals("SUCCESS"));

      List<LoggedRequest> got = fx.requests();
      assertThat(got)
          .extracting(LoggedRequest::getUrl)
          .containsExactly("/hooks/projection", "/hooks/vendor");
      assertThat(got)
          .extracting(r -> r.getHeader("webhook-id"))
          .containsExactly(
              "plan-change.projection:" + event.eventId(), "plan-change.vendor:" + event.eventId());
      Duration gap =
          Duration.between(
              got.get(0).getLoggedDate().toInstant(), got.get(1).getLoggedDate().toInstant());
      assertThat(gap).isGreaterThanOrEqualTo(Duration.ofMillis(300)); // the cooldown

      assertThat(admin.steps(id))
          .extracting(WorkflowAdmin.StepRecord::name)
          .containsExactly("projection", "DBOS.sleep", "vendor");
      assertThat(admin.list(new WorkflowAdmin.Filter("acme", null, "SUCCESS", null, null, 10)))
          .extracting(WorkflowAdmin.Summary::id)
          .containsExactly(id);
      assertThat(admin.list(new WorkflowAdmin.Filter("other", null, null, null, null, 10)))
          .isEmpty();
      assertThat(admin.list(new WorkflowAdmin.Filter(null, null, "ERROR", null, null, 10)))
          .isEmpty();
      assertThat(
              admin.list(
                  new WorkflowAdmin.Filter("acme", null, null, Duration.ofHours(1), null, 10)))
          .isEmpty(); // not older than an hour
      assertThat(admin.countsByState()).containsEntry("plan-change/SUCCESS", 1L);
    } finally {
      engine.kill();
    }

    List<SpanData> stepSpans = spans.getFinishedSpanItems();
    assertThat(stepSpans)
        .extracting(SpanData::getName)
        .containsExactly("workflow plan-change.projection", "workflow plan-change.vendor");
    assertThat(stepSpans).extracting(SpanData::getTraceId).containsOnly(traceId);
    assertThat(stepSpans)
        .extracting(SpanData::getParentSpanContext)
        .extracting(SpanContext::getSpanId)
        .containsOnly(parentSpan);
    assertThat(meters.find("invalidator.workflow.step").tag("step", "vendor").timer().count())
        .isEqualTo(1);
  }

  @Test
  void aRedeliveredEventStartsNoSecondWorkflow() {
    var engine = fx.start(WorkflowEngine.builder().definition(planChange()));
    InvalidationEvent event = WorkflowFixture.event("acme", "plan.changed");
    InvalidationEvent other = WorkflowFixture.event("acme", "plan.renamed");
    try (WorkflowAdmin admin = fx.admin()) {
      var target = engine.engine().asTarget();
      assertThat(target.apply(List.of(event, other)))
          .containsExactly(ApplyResult.APPLIED, ApplyResult.STALE_SKIPPED);
      assertThat(target.apply(List.of(event))).containsExactly(ApplyResult.DUPLICATE);
      String id = WorkflowEngine.workflowId("plan-change", event);
      await().atMost(Duration.ofSeconds(20)).until(() -> state(admin, id).equals("SUCCESS"));
      assertThat(target.apply(List.of(event))).containsExactly(ApplyResult.DUPLICATE);
      assertThat(fx.receiptsByKey())
          .hasSize(2)
          .containsOnlyKeys(
              "plan-change.projection:" + event.eventId(), "plan-change.vendor:" + event.eventId());
      assertThat(fx.receiptsByKey().values()).containsOnly(1L);
    } finally {
      engine.kill();
    }
  }

  private static String state(WorkflowAdmin admin, String id) {
    return admin.get(id).map(WorkflowAdmin.Summary::state).orElse("");
  }

  static String ids(List<WorkflowAdmin.Summary> s) {
    return s.stream().map(WorkflowAdmin.Summary::id).collect(Collectors.joining(","));
  }
}
