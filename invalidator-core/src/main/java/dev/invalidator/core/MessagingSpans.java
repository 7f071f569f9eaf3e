package dev.invalidator.core;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * OpenTelemetry spans across the message boundary, following the messaging semantic conventions.
 *
 * <p>Design notes. The trace context travels as W3C {@code traceparent} / {@code tracestate}: the
 * writer captures the caller's current span into the outbox row ({@link #currentTraceContext()}),
 * the relay copies it into the stream entry, and the relay's {@code publish} span and the worker's
 * {@code process} span are both <em>children</em> of the writer's span (not links): each entry
 * carries exactly one event, so there is exactly one creation context per processed message, and a
 * child keeps the whole path of one write, from the request to the cache eviction, in one trace. An
 * event without trace context makes no spans: there is nothing to follow, and a new root trace per
 * event would flood the backend. The context format is always W3C, whatever propagators the SDK is
 * configured with, because the outbox columns and stream fields are W3C by contract.
 *
 * <p>{@link #NOOP} (and {@link #create} with {@link OpenTelemetry#noop()}) does no work at all: no
 * extraction, no span objects, so tracing that is off costs nothing.
 */
public final class MessagingSpans {
  /** Spans are off. */
  public static final MessagingSpans NOOP = new MessagingSpans(null, "none");

  /** The instrumentation scope name of every span Invalidator makes. */
  public static final String INSTRUMENTATION_SCOPE = "dev.invalidator";

  public static final AttributeKey<String> MESSAGING_SYSTEM =
      AttributeKey.stringKey("messaging.system");
  public static final AttributeKey<String> OPERATION_TYPE =
      AttributeKey.stringKey("messaging.operation.type");
  public static final AttributeKey<String> OPERATION_NAME =
      AttributeKey.stringKey("messaging.operation.name");
  public static final AttributeKey<String> DESTINATION =
      AttributeKey.stringKey("messaging.destination.name");
  public static final AttributeKey<String> MESSAGE_ID =
      AttributeKey.stringKey("messaging.message.id");
  public static final AttributeKey<String> TENANT = AttributeKey.stringKey("invalidator.tenant");
  public static final AttributeKey<String> AGGREGATE_TYPE =
      AttributeKey.stringKey("invalidator.aggregate.type");
  public static final AttributeKey<String> AGGREGATE_ID =
      AttributeKey.stringKey("invalidator.aggregate.id");
  public static final AttributeKey<Long> AGGREGATE_VERSION =
      AttributeKey.longKey("invalidator.aggregate.version");
  public static final AttributeKey<String> EVENT_ID =
      AttributeKey.stringKey("invalidator.event.id");

  private static final W3CTraceContextPropagator W3C = W3CTraceContextPropagator.getInstance();

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
  private final String system;

  private MessagingSpans(Tracer tracer, String system) {
    this.tracer = tracer;
    this.system = system;
  }

  /**
   * Spans from {@code openTelemetry}; {@link #NOOP} when it is null or {@link
   * OpenTelemetry#noop()}.
   *
   * @param system the {@code messaging.system} attribute, e.g. {@code redis}
   */
  public static MessagingSpans create(OpenTelemetry openTelemetry, String system) {
    Objects.requireNonNull(system, "system");
    if (openTelemetry == null || openTelemetry == OpenTelemetry.noop()) {
      return NOOP;
    }
    return new MessagingSpans(openTelemetry.getTracer(INSTRUMENTATION_SCOPE), system);
  }

  /** True when spans are recorded at all. */
  public boolean enabled() {
    return tracer != null;
  }

  /**
   * The caller's current span as W3C trace context, or {@link TraceContext#NONE} when there is no
   * valid current span. Independent of any SDK: it reads {@link Span#current()}.
   */
  public static TraceContext currentTraceContext() {
    SpanContext sc = Span.current().getSpanContext();
    if (!sc.isValid()) {
      return TraceContext.NONE;
    }
    Map<String, String> carrier = new HashMap<>();
    W3C.inject(Context.current(), carrier, Map::put);
    String tracestate = carrier.get("tracestate");
    if (tracestate != null && (tracestate.isEmpty() || tracestate.length() > 512)) {
      tracestate = null; // an oversized tracestate is dropped rather than failing the write
    }
    return TraceContext.of(carrier.get("traceparent"), tracestate);
  }

  /**
   * Starts the relay's {@code publish} span for one event, child of the event's trace context;
   * {@link Span#getInvalid()} when spans are off or the event has no trace context.
   */
  public Span startPublish(String destination, InvalidationEvent event) {
    if (tracer == null || !event.trace().isPresent()) {
      return Span.getInvalid();
    }
    Map<String, String> carrier = new HashMap<>();
    carrier.put(StreamEntry.TRACEPARENT, event.trace().traceparent());
    if (event.trace().tracestate() != null) {
      carrier.put(StreamEntry.TRACESTATE, event.trace().tracestate());
    }
    return start("publish", "send", SpanKind.PRODUCER, destination, carrier, event, null);
  }

  /**
   * Starts the worker's {@code process} span for one delivery, child of the trace context carried
   * by the entry; {@link Span#getInvalid()} when spans are off or the entry carries none.
   */
  public Span startProcess(String destination, Delivery delivery, InvalidationEvent event) {
    if (tracer == null || delivery.fields().get(StreamEntry.TRACEPARENT) == null) {
      return Span.getInvalid();
    }
    return start(
        "process", "process", SpanKind.CONSUMER, destination, delivery.fields(), event, delivery);
  }

  private Span start(
      String operation,
      String operationType,
      SpanKind kind,
      String destination,
      Map<String, String> carrier,
      InvalidationEvent event,
      Delivery delivery) {
    Context parent = W3C.extract(Context.root(), carrier, FIELDS);
    var builder =
        tracer
            .spanBuilder(operation + " " + destination)
            .setParent(parent)
            .setSpanKind(kind)
            .setAttribute(MESSAGING_SYSTEM, system)
            .setAttribute(OPERATION_TYPE, operationType)
            .setAttribute(OPERATION_NAME, operation)
            .setAttribute(DESTINATION, destination)
            .setAttribute(TENANT, event.tenantId())
            .setAttribute(AGGREGATE_TYPE, event.aggregate().type())
            .setAttribute(AGGREGATE_ID, event.aggregate().id())
            .setAttribute(AGGREGATE_VERSION, event.aggregateVersion())
            .setAttribute(EVENT_ID, event.eventId().toString());
    if (delivery != null) {
      builder.setAttribute(MESSAGE_ID, delivery.id());
    }
    return builder.startSpan();
  }

  /** Marks {@code span} failed with {@code error}; a no-op on an invalid span. */
  public static void fail(Span span, Throwable error) {
    if (span.getSpanContext().isValid()) {
      span.setStatus(StatusCode.ERROR, String.valueOf(error));
      if (error != null) {
        span.recordException(error);
      }
    }
  }
}
