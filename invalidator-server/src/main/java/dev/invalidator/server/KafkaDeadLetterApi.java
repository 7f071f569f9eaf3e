package dev.invalidator.server;

import dev.invalidator.kafka.KafkaDeadLetterAdmin;
import dev.invalidator.redis.RedisDeadLetters;
import dev.invalidator.server.observe.DeadLetterApi;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * {@code /api/dlq} on {@code <topic>-dlt}: the operations of {@code invalidator dlq} ({@link
 * KafkaDeadLetterAdmin}: read with a consumer that assigns and seeks and never commits; handled
 * dead letters are marks in the {@code invalidator-dlq} group), in the JSON shape of the Redis
 * stream's dead letters, plus where the original record was ({@code original_topic}, {@code
 * original_partition}, {@code original_offset}, from the {@code kafka_dlt-*} headers). An id is
 * {@code <dlt partition>-<dlt offset>}, as in {@code invalidator dlq list}.
 */
final class KafkaDeadLetterApi implements DeadLetterApi {
  private final KafkaDeadLetterAdmin dlt;

  KafkaDeadLetterApi(KafkaDeadLetterAdmin dlt) {
    this.dlt = Objects.requireNonNull(dlt, "dlt");
  }

  @Override
  public List<Map<String, Object>> list(int max) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (KafkaDeadLetterAdmin.Stored s : dlt.list(max)) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("id", s.id());
      row.put("fields", fields(s));
      out.add(row);
    }
    return out;
  }

  @Override
  public String redrive(String id) {
    Optional<KafkaDeadLetterAdmin.Stored> s = dlt.find(id);
    return s.isEmpty() ? null : dlt.redriveTo(List.of(s.get())).get(0);
  }

  @Override
  public boolean drop(String id) {
    Optional<KafkaDeadLetterAdmin.Stored> s = dlt.find(id);
    return s.isPresent() && dlt.drop(List.of(s.get())) == 1;
  }

  /** The fields RedisDeadLetters stores, in its order, then the Kafka origin; nulls left out. */
  private static Map<String, String> fields(KafkaDeadLetterAdmin.Stored s) {
    Map<String, String> f = new LinkedHashMap<>();
    f.put(
        "source_id",
        s.originalPartition() == null ? null : s.originalPartition() + "-" + s.originalOffset());
    f.put("target", s.target());
    f.put("reason", s.reason());
    f.put("attempts", Long.toString(s.attempts()));
    f.put("first_failure", s.firstFailure() == null ? null : s.firstFailure().toString());
    f.put("last_failure", s.lastFailure() == null ? null : s.lastFailure().toString());
    f.put("last_error", s.lastError());
    f.put("original_topic", s.originalTopic());
    f.put(
        "original_partition",
        s.originalPartition() == null ? null : s.originalPartition().toString());
    f.put("original_offset", s.originalOffset() == null ? null : s.originalOffset().toString());
    s.original().forEach((k, v) -> f.put(RedisDeadLetters.ORIGINAL_PREFIX + k, v));
    f.values().removeIf(Objects::isNull);
    return f;
  }
}
