package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.RelayListener;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One write followed from the business transaction's span, through the outbox row and the stream
 * entry, to the relay's publish span and the worker's process span: all in one trace, children of
 * the writer's span.
 */
class TracingTest {
  private final InMemorySpanExporter exporter = InMemorySpanExporter.create();
  private OpenTelemetrySdk sdk;
  private TestEnv env;
  private Pipeline pipeline;

  @BeforeEach
  void setUp() {
    sdk =
        OpenTelemetrySdk.builder()
            .setTracerProvider(
                SdkTracerProvider.builder()
                    .addSpanProcessor(SimpleSpanProcessor.create(exporter))
                    .build())
            .build();
    env = new TestEnv(Map.of());
    pipeline =
        new Pipeline(
            env.cfg,
            env.servers,
            Daemon.Role.ALL,
            WorkerListener.NONE,
            RelayListener.NONE,
            Clock.systemUTC(),
            MessagingSpans.create(sdk, "redis"));
    pipeline.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    pipeline.close();
    env.close();
    sdk.close();
  }

  @Test
  void workerSpanBelongsToTheTraceOfTheBusinessTransaction() {
    Span business = sdk.getTracer("app").spanBuilder("POST /accounts/42/plan").startSpan();
    InvalidationEvent event;
    try (Scope scope = business.makeCurrent()) {
      assertThat(scope).isNotNull();
      event = env.commit("acme", "42", 7);
    } finally {
      business.end();
    }
    String stream = env.keys.stream();
    SpanData process = awaitSpan("process " + stream);
    SpanData publish = awaitSpan("publish " + stream);

    String traceId = business.getSpanContext().getTraceId();
    assertThat(process.getTraceId()).isEqualTo(traceId);
    assertThat(process.getParentSpanId()).isEqualTo(business.getSpanContext().getSpanId());
    assertThat(process.getKind()).isEqualTo(SpanKind.CONSUMER);
    assertThat(process.getAttributes().asMap())
        .containsEntry(MessagingSpans.MESSAGING_SYSTEM, "redis")
        .containsEntry(MessagingSpans.OPERATION_TYPE, "process")
        .containsEntry(MessagingSpans.DESTINATION, stream)
        .containsEntry(MessagingSpans.TENANT, "acme")
        .containsEntry(MessagingSpans.AGGREGATE_TYPE, "account")
        .containsEntry(MessagingSpans.AGGREGATE_ID, "42")
        .containsEntry(MessagingSpans.AGGREGATE_VERSION, 7L)
        .containsEntry(MessagingSpans.EVENT_ID, event.eventId().toString());

    assertThat(publish.getTraceId()).isEqualTo(traceId);
    assertThat(publish.getParentSpanId()).isEqualTo(business.getSpanContext().getSpanId());
    assertThat(publish.getKind()).isEqualTo(SpanKind.PRODUCER);
    assertThat(publish.getAttributes().asMap())
        .containsEntry(MessagingSpans.OPERATION_TYPE, "send")
        .containsEntry(MessagingSpans.DESTINATION, stream);
  }

  @Test
  void eventWrittenOutsideAnySpanMakesNoSpans() {
    env.commit("acme", "43", 1);
    env.commit("acme", "43", 2);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () ->
                env.servers
                            .connection()
                            .sync()
                            .xpending(env.keys.stream(), env.cfg.worker().group())
                            .getCount()
                        == 0
                    && env.servers.connection().sync().xlen(env.keys.stream()) == 2);
    assertThat(exporter.getFinishedSpanItems()).isEmpty();
  }

  @Test
  void tracingOffIsTheNoopWithoutWork() {
    assertThat(MessagingSpans.create(OpenTelemetry.noop(), "redis")).isSameAs(MessagingSpans.NOOP);
    assertThat(MessagingSpans.NOOP.enabled()).isFalse();
    assertThat(
            dev.invalidator.server.observe.TracingAccess.from(Map.of(), new java.util.Properties()))
        .isSameAs(OpenTelemetry.noop());
    assertThat(
            dev.invalidator.server.observe.TracingAccess.from(
                Map.of("OTEL_SDK_DISABLED", "true", "OTEL_SERVICE_NAME", "x"),
                new java.util.Properties()))
        .isSameAs(OpenTelemetry.noop());
  }

  @Test
  void otelVariablesTurnOnTheAutoconfiguredSdkWithTheOtlpExporter() {
    OpenTelemetry otel =
        dev.invalidator.server.observe.TracingAccess.from(
            Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            new java.util.Properties());
    try {
      assertThat(otel).isInstanceOf(OpenTelemetrySdk.class);
      assertThat(MessagingSpans.create(otel, "redis").enabled()).isTrue();
    } finally {
      dev.invalidator.server.observe.Tracing.shutdown(otel);
    }
  }

  private SpanData awaitSpan(String name) {
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> exporter.getFinishedSpanItems().stream().anyMatch(s -> s.getName().equals(name)));
    List<SpanData> spans =
        exporter.getFinishedSpanItems().stream().filter(s -> s.getName().equals(name)).toList();
    assertThat(spans).hasSize(1);
    return spans.get(0);
  }
}
