package dev.invalidator.workflows;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.MessagingSpans;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.HashMap;
import java.util.Map;

/**
 * One span per attempt of a workflow step, a child of the event's trace context (the writer's
 * span), like the worker's {@code process} span: one trace runs from the business transaction
 * through the relay, the worker and every step of the workflow. An event without trace context
 * makes no spans (see {@link MessagingSpans}).
 */
final class WorkflowSpans {
  static final AttributeKey<String> WORKFLOW = AttributeKey.stringKey("invalidator.workflow");
  static final AttributeKey<String> WORKFLOW_ID = AttributeKey.stringKey("invalidator.workflow.id");
  static final AttributeKey<String> STEP = AttributeKey.stringKey("invalidator.workflow.step");
  static final AttributeKey<String> STEP_KIND =
      AttributeKey.stringKey("invalidator.workflow.step.kind");

  private static final TextMapGetter<Map<String, String>> FIELDS =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
          return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
          return carrier == null ? null : carrier.get(key);
        }
      };

  private final Tracer tracer;

  WorkflowSpans(OpenTelemetry openTelemetry) {
    this.tracer =
        openTelemetry == null || openTelemetry == OpenTelemetry.noop()
            ? null
            : openTelemetry.getTracer(MessagingSpans.INSTRUMENTATION_SCOPE);
  }

  Span startStep(String workflow, WorkflowStep step, String workflowId, InvalidationEvent event) {
    if (tracer == null || !event.trace().isPresent()) {
      return Span.getInvalid();
    }
    Map<String, String> carrier = new HashMap<>();
    carrier.put("traceparent", event.trace().traceparent());
    if (event.trace().tracestate() != null) {
      carrier.put("tracestate", event.trace().tracestate());
    }
    Context parent =
        W3CTraceContextPropagator.getInstance().extract(Context.root(), carrier, FIELDS);
    return tracer
        .spanBuilder("workflow " + workflow + "." + step.name())
        .setParent(parent)
        .setSpanKind(SpanKind.INTERNAL)
        .setAttribute(WORKFLOW, workflow)
        .setAttribute(WORKFLOW_ID, workflowId)
        .setAttribute(STEP, step.name())
        .setAttribute(STEP_KIND, step.kind().label())
        .setAttribute(MessagingSpans.TENANT, event.tenantId())
        .setAttribute(MessagingSpans.EVENT_ID, event.eventId().toString())
        .startSpan();
  }

  static void fail(Span span, Throwable error) {
    if (span.getSpanContext().isValid()) {
      span.setStatus(StatusCode.ERROR, String.valueOf(error.getMessage()));
      span.recordException(error);
    }
  }
}
