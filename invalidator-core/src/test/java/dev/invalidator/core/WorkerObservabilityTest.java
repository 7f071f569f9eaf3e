package dev.invalidator.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The worker's observability hooks, with in-memory ports: a failed apply is reported and left
 * pending until the last delivery dead-letters it, and the process span of an entry is a child of
 * the context it carries and records the failure.
 */
class WorkerObservabilityTest {
  private final List<String> calls = new ArrayList<>();

  private final WorkerListener recorder =
      new WorkerListener() {
        @Override
        public void failed(String target, Delivery delivery, RuntimeException error) {
          calls.add("failed " + target + " " + delivery.deliveryCount());
        }

        @Override
        public void deadLettered(DeadLetter deadLetter) {
          calls.add("dead-lettered " + deadLetter.target() + " " + deadLetter.reason());
        }
      };

  private static final Target FAILING =
      new Target() {
        @Override
        public String name() {
          return "down";
        }

        @Override
        public List<ApplyResult> apply(List<InvalidationEvent> events) {
          return events.stream()
              .map(e -> ApplyResult.failed(new IllegalStateException("target down")))
              .toList();
        }
      };

  private static final EventSource NO_SOURCE = source(new ArrayList<>());

  /** A source that delivers nothing and records what is acknowledged in {@code acked}. */
  private static EventSource source(List<String> acked) {
    return new EventSource() {
      @Override
      public List<Delivery> poll(int max, Duration block) {
        return List.of();
      }

      @Override
      public List<Delivery> claimAbandoned(Duration minIdle, int max) {
        return List.of();
      }

      @Override
      public void ack(Collection<String> ids) {
        acked.addAll(ids);
      }

      @Override
      public String destination() {
        return "inv:stream";
      }
    };
  }

  private InvalidationWorker worker(MessagingSpans spans) {
    List<DeadLetter> stored = new ArrayList<>();
    return new InvalidationWorker(
        NO_SOURCE,
        List.of(FAILING),
        stored::add,
        InvalidationWorker.Options.builder().maxDeliveries(3).build(),
        recorder,
        Clock.systemUTC(),
        spans);
  }

  private static Map<String, String> fields(TraceContext trace) {
    InvalidationEvent e =
        InvalidationEvent.builder()
            .tenant("acme")
            .aggregate("account", "42")
            .version(3)
            .eventType("account.changed")
            .trace(trace)
            .build();
    return StreamEntry.fields(1, e, Instant.now(), Instant.now());
  }

  @Test
  void failedApplyStaysPendingUntilTheLastDeliveryDeadLettersIt() {
    InvalidationWorker w = worker(MessagingSpans.NOOP);
    Map<String, String> f = fields(TraceContext.NONE);
    w.process(List.of(new Delivery("1-0", f, 1)));
    w.process(List.of(new Delivery("1-0", f, 3)));
    assertThat(calls)
        .containsExactly("failed down 1", "failed down 3", "dead-lettered down retries_exhausted");
  }

  @Test
  void aListenerThatThrowsNeverKeepsABatchFromBeingAcknowledged() {
    List<String> acked = new ArrayList<>();
    Target ok =
        new Target() {
          @Override
          public String name() {
            return "ok";
          }

          @Override
          public List<ApplyResult> apply(List<InvalidationEvent> events) {
            return events.stream().map(e -> ApplyResult.APPLIED).toList();
          }
        };
    WorkerListener throwing =
        new WorkerListener() {
          @Override
          public void consumed(Delivery delivery, long lagMillis) {
            throw new IllegalStateException("broken metrics");
          }

          @Override
          public void applied(
              String target,
              InvalidationEvent event,
              ApplyResult result,
              Instant committedAt,
              Instant appliedAt) {
            throw new IllegalStateException("broken metrics");
          }
        };
    InvalidationWorker w =
        new InvalidationWorker(
            source(acked),
            List.of(ok),
            dl -> {},
            InvalidationWorker.Options.defaults(),
            throwing,
            Clock.systemUTC());

    w.process(List.of(new Delivery("7-0", fields(TraceContext.NONE), 1)));

    assertThat(acked).containsExactly("7-0");
  }

  @Test
  void eventTypeAllowlistDeadLettersOthersButNeverFlushEvents() {
    List<String> applied = new ArrayList<>();
    List<DeadLetter> stored = new ArrayList<>();
    Target recording =
        new Target() {
          @Override
          public String name() {
            return "rec";
          }

          @Override
          public List<ApplyResult> apply(List<InvalidationEvent> events) {
            events.forEach(e -> applied.add(e.eventType()));
            return events.stream().map(e -> ApplyResult.APPLIED).toList();
          }
        };
    InvalidationWorker w =
        new InvalidationWorker(
            NO_SOURCE,
            List.of(recording),
            stored::add,
            InvalidationWorker.Options.builder()
                .eventTypes(java.util.Set.of("account.changed"))
                .build(),
            WorkerListener.NONE,
            Clock.systemUTC());
    List<Delivery> batch = new ArrayList<>();
    int n = 0;
    for (String type :
        List.of(
            "account.changed",
            "account.deleted",
            FlushEvents.TENANT_FLUSH,
            FlushEvents.TAG_INVALIDATE)) {
      InvalidationEvent e =
          InvalidationEvent.builder()
              .tenant("acme")
              .aggregate("account", "42")
              .version(3)
              .eventType(type)
              .build();
      batch.add(
          new Delivery(n + "-0", StreamEntry.fields(n++, e, Instant.now(), Instant.now()), 1));
    }
    w.process(batch);
    assertThat(applied)
        .containsExactly("account.changed", FlushEvents.TENANT_FLUSH, FlushEvents.TAG_INVALIDATE);
    assertThat(stored)
        .singleElement()
        .satisfies(d -> assertThat(d.reason()).isEqualTo("unknown_event_type"));
  }

  @Test
  void processSpanIsAChildOfTheCarriedContextAndRecordsTheFailure() {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    try (OpenTelemetrySdk sdk =
        OpenTelemetrySdk.builder()
            .setTracerProvider(
                SdkTracerProvider.builder()
                    .addSpanProcessor(SimpleSpanProcessor.create(exporter))
                    .build())
            .build()) {
      Span writer = sdk.getTracer("app").spanBuilder("tx").startSpan();
      TraceContext carried;
      try (Scope scope = writer.makeCurrent()) {
        assertThat(scope).isNotNull();
        carried = MessagingSpans.currentTraceContext();
      } finally {
        writer.end();
      }
      assertThat(carried.isPresent()).isTrue();
      worker(MessagingSpans.create(sdk, "redis"))
          .process(List.of(new Delivery("7-1", fields(carried), 1)));
      SpanData process =
          exporter.getFinishedSpanItems().stream()
              .filter(s -> s.getName().equals("process inv:stream"))
              .findFirst()
              .orElseThrow();
      assertThat(process.getTraceId()).isEqualTo(writer.getSpanContext().getTraceId());
      assertThat(process.getParentSpanId()).isEqualTo(writer.getSpanContext().getSpanId());
      assertThat(process.getKind()).isEqualTo(SpanKind.CONSUMER);
      assertThat(process.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR);
      assertThat(process.getAttributes().get(MessagingSpans.MESSAGE_ID)).isEqualTo("7-1");
    }
  }

  @Test
  void noSpanWithoutCurrentContextOrWhenOff() {
    assertThat(MessagingSpans.currentTraceContext()).isEqualTo(TraceContext.NONE);
    assertThat(
            MessagingSpans.NOOP.startProcess(
                "s", new Delivery("1-0", fields(TraceContext.NONE), 1), null))
        .isSameAs(Span.getInvalid());
  }
}
