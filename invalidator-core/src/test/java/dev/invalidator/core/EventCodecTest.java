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

  @Test
  void encodesTheDocumentedTextFieldByField() {
    assertThat(EventCodec.encode(event))
        .isEqualTo(
            "{\"event_id\":\"0b9c3f6e-58f8-4e3a-9d8f-0d2a3c1e7b11\",\"tenant_id\":\"acme\","
                + "\"aggregate_type\":\"account\",\"aggregate_id\":\"42\",\"aggregate_version\":7,"
                + "\"event_type\":\"account.plan_changed\",\"payload\":{\"views\":[\"summary\"],"
                + "\"tags\":[\"plan-pro\"],\"cdn_tags\":[\"acct-42\"]},"
                + "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\","
                + "\"tracestate\":\"k=v\",\"created_at\":\"2026-11-24T10:15:30.123456Z\"}");
    assertThat(EventCodec.encodePayload(Payload.EMPTY)).isEqualTo("{}");
  }

  /**
   * The streaming fast path must accept and refuse exactly what the tree decoder does, with the
   * same message: every mutation below goes through both.
   */
  @Test
  void fastAndReferenceDecodersAgreeOnEveryVariant() {
    String json = EventCodec.encode(event);
    String[][] edits = {
      {"", ""},
      {"\"tenant_id\":\"acme\",", ""},
      {"\"tenant_id\":\"acme\"", "\"tenant_id\":null"},
      {"\"tenant_id\":\"acme\"", "\"tenant_id\":5"},
      {"\"tenant_id\":\"acme\"", "\"tenant_id\":\"acme\",\"tenant_id\":\"other\""},
      {"\"tenant_id\":\"acme\"", "\"tenant_id\":\"acme\",\"tenant_id\":null"},
      {"\"aggregate_version\":7", "\"aggregate_version\":\"7\""},
      {"\"aggregate_version\":7", "\"aggregate_version\":7.0"},
      {"\"aggregate_version\":7", "\"aggregate_version\":7.5"},
      {"\"aggregate_version\":7", "\"aggregate_version\":-1"},
      {"\"aggregate_version\":7", "\"aggregate_version\":99999999999999999999"},
      {"\"aggregate_version\":7", "\"aggregate_version\":null"},
      {"\"aggregate_version\":7,", ""},
      {"acme", "ac me"},
      {"acme", "ac{me"},
      {"0b9c3f6e", "zzzz"},
      {"\"event_type\":\"account.plan_changed\"", "\"event_type\":\"bad type\""},
      {"\"views\":[\"summary\"]", "\"views\":\"summary\""},
      {"\"views\":[\"summary\"]", "\"views\":[1]"},
      {"\"views\":[\"summary\"]", "\"views\":[\"a|b\"]"},
      {"\"views\":[\"summary\"]", "\"views\":null"},
      {"\"views\":[\"summary\"]", "\"views\":[\"summary\"],\"other\":{\"x\":[1,{}]}"},
      {"\"payload\":{", "\"payload\":null,\"unused\":{"},
      {"\"payload\":{\"views\":[\"summary\"],", "\"payload\":[],\"p\":{"},
      {"\"traceparent\":\"00-", "\"traceparent\":\"01-"},
      {"\"tracestate\":\"k=v\"", "\"tracestate\":7"},
      {"\"tracestate\":\"k=v\"", "\"tracestate\":null"},
      {"2026-11-24T10:15:30.123456Z", "2026-11-24 10:15:30"},
      {"2026-11-24T10:15:30.123456Z", "2026-02-30T10:15:30Z"},
      {"\"created_at\":\"2026-11-24T10:15:30.123456Z\"", "\"created_at\":null"},
      {"\"created_at\":\"2026-11-24T10:15:30.123456Z\"", "\"created_at\":{}"},
      {"{\"event_id\"", "{\"extra\":[1,2,{\"a\":null}],\"event_id\""},
      {"}}", "}"},
      {"}}", "}} trailing"},
      {"}}", "}},"},
    };
    for (String[] edit : edits) {
      String variant = json.replace(edit[0], edit[1]);
      Object fast = outcome(() -> EventCodec.decode(variant));
      Object reference = outcome(() -> EventCodec.decodeTree(variant));
      assertThat(fast).as(variant).isEqualTo(reference);
    }
  }

  private static Object outcome(java.util.function.Supplier<InvalidationEvent> decode) {
    try {
      return decode.get();
    } catch (InvalidEventException ex) {
      return "refused: " + ex.getMessage();
    }
  }
}
