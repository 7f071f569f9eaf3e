package dev.invalidator.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Settings validation and the attempt-count encoding; no broker. */
class KafkaSettingsTest {
  @Test
  void publisherRefusesToTurnOffIdempotenceOrAcksAll() {
    assertThatThrownBy(
            () ->
                KafkaEventPublisher.builder("localhost:9092", "t")
                    .producerProperty("acks", "1")
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("acks=all");
    assertThatThrownBy(
            () ->
                KafkaEventPublisher.builder("localhost:9092", "t")
                    .producerProperty("enable.idempotence", "false")
                    .build())
        .hasMessageContaining("enable.idempotence");
  }

  @Test
  void sourceRefusesAutoCommitAndNamesTheBadSetting() {
    assertThatThrownBy(
            () ->
                KafkaEventSource.builder("localhost:9092", "t")
                    .consumerProperty("enable.auto.commit", "true")
                    .build())
        .hasMessageContaining("enable.auto.commit");
    assertThatThrownBy(() -> KafkaEventSource.builder("localhost", "t").build())
        .hasMessageContaining("kafka.bootstrap");
    assertThatThrownBy(() -> KafkaEventSource.builder("localhost:9092", "a b").build())
        .hasMessageContaining("kafka.topic");
    assertThatThrownBy(() -> KafkaEventSource.builder("localhost:9092", "t").group("").build())
        .hasMessageContaining("kafka.group");
    assertThatThrownBy(
            () -> KafkaEventSource.builder("localhost:9092", "t").maxPollRecords(0).build())
        .hasMessageContaining("kafka.maxPollRecords");
  }

  @Test
  void attemptCountsRoundTripThroughTheCommitMetadata() {
    Map<Long, Long> counts = new LinkedHashMap<>();
    counts.put(12L, 3L);
    counts.put(7L, 2L);
    AttemptCounts.Encoded enc = AttemptCounts.encode(counts);
    assertThat(enc.metadata()).isEqualTo("a1:7=2,12=3");
    assertThat(enc.omitted()).isZero();
    assertThat(AttemptCounts.decode(enc.metadata())).isEqualTo(Map.of(7L, 2L, 12L, 3L));
    assertThat(AttemptCounts.encode(Map.of()).metadata()).isEmpty();
    assertThat(AttemptCounts.decode("written by another tool")).isEmpty();
    assertThat(AttemptCounts.decode("a1:5=x,6=2")).isEqualTo(Map.of(6L, 2L));
  }

  @Test
  void attemptCountsThatDoNotFitKeepTheLowestOffsets() {
    Map<Long, Long> counts = new LinkedHashMap<>();
    for (long o = 1_000_000_000L; o < 1_000_000_400L; o++) {
      counts.put(o, 2L);
    }
    AttemptCounts.Encoded enc = AttemptCounts.encode(counts);
    assertThat(enc.metadata().length()).isLessThanOrEqualTo(AttemptCounts.MAX_CHARS);
    assertThat(enc.omitted()).isPositive();
    Map<Long, Long> kept = AttemptCounts.decode(enc.metadata());
    assertThat(kept).containsKey(1_000_000_000L).doesNotContainKey(1_000_000_399L);
    assertThat(kept.size() + enc.omitted()).isEqualTo(400);
  }

  @Test
  void deadLetterErrorsAreMasked() {
    assertThat(KafkaDeadLetters.redact("redis://app:s3cret@cache:6379 (password=hunter2)"))
        .doesNotContain("s3cret")
        .doesNotContain("hunter2")
        .contains("redis://***@cache:6379");
  }
}
