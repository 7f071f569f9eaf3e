package dev.invalidator.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class EventCodecTest {
  private final InvalidationEvent event =
      InvalidationEvent.builder()
          .eventId(UUID.fromString("0b9c3f6e-58f8-4e3a-9d8f-0d2a3c1e7b11"))
          .tenant("acme")
          .aggregate("account", "42")
          .version(7)
          .eventType("account.plan_changed")
          .payload(new Payload(List.of("summary"), List.of("plan-pro"), List.of("acct-42")))
          .trace(TraceContext.of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v"))
          .createdAt(Instant.parse("2026-11-24T10:15:30.123456Z"))
          .build();

  @Test
  void roundTripsEveryField() {
    assertThat(EventCodec.decode(EventCodec.encode(event))).isEqualTo(event);
  }

  @Test
  void usesTheOutboxColumnNames() {
    assertThat(EventCodec.encode(event))
        .contains("\"event_id\":\"0b9c3f6e-58f8-4e3a-9d8f-0d2a3c1e7b11\"")
        .contains("\"tenant_id\":\"acme\"")
        .contains("\"aggregate_version\":7")
        .contains("\"cdn_tags\":[\"acct-42\"]");
  }

  @Test
  void malformedJsonIsRefusedNamingTheProblem() {
    assertThatThrownBy(() -> EventCodec.decode("{not json"))
        .isInstanceOf(InvalidEventException.class)
        .hasMessageStartingWith("event: is not valid JSON");
  }

  @Test
  void missingAndWrongFieldsAreNamed() {
    String json = EventCodec.encode(event);
    assertThatThrownBy(() -> EventCodec.decode(json.replace("\"tenant_id\":\"acme\",", "")))
        .hasMessage("tenant_id: is missing");
    assertThatThrownBy(
            () ->
                EventCodec.decode(
                    json.replace("\"aggregate_version\":7", "\"aggregate_version\":\"7\"")))
        .hasMessageStartingWith("aggregate_version: must be an integer");
    assertThatThrownBy(() -> EventCodec.decode(json.replace("acme", "ac me")))
        .hasMessageStartingWith("tenant_id: contains whitespace");
    assertThatThrownBy(() -> EventCodec.decode(json.replace("0b9c3f6e", "zzzz")))
        .hasMessageStartingWith("event_id: is not a UUID");
    assertThatThrownBy(() -> EventCodec.decode("[1]")).hasMessage("event: is not a JSON object");
  }

  @Test
  void oversizedEventIsRefused() {
    String big = "{\"pad\":\"" + "x".repeat(EventCodec.MAX_EVENT_BYTES) + "\"}";
    assertThatThrownBy(() -> EventCodec.decode(big))
        .isInstanceOf(InvalidEventException.class)
        .hasMessageContaining("the limit is 65536");
  }

  @Test
  void payloadWithTooManyItemsIsRefused() {
    List<String> many = java.util.Collections.nCopies(Payload.MAX_ITEMS + 1, "v");
    assertThatThrownBy(() -> new Payload(many, List.of(), List.of()))
        .hasMessage("payload.views: has 257 items; the limit is 256");
  }

  @Test
  void malformedTraceparentIsRefused() {
    assertThatThrownBy(() -> TraceContext.of("not-a-trace", null))
        .hasMessageStartingWith("traceparent:");
  }
}
