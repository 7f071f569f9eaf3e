package dev.invalidator.kafka;

import dev.invalidator.core.InvalidatorException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * A consumer group's lag on one topic, from the group's committed offsets (what the daemon would
 * export as {@code invalidator_stream_lag_entries}): per partition, the end offset minus the
 * committed offset, or minus the log start offset where the group has committed nothing. Records
 * handed out but not acknowledged count as lag, since the commit rule keeps the commit at or before
 * them; that is the number a person wants ("how much is not applied yet").
 *
 * @param committed the group's committed offset per partition; absent where it has none
 * @param end the end offset (the next offset to be written) per partition
 * @param lag the records not yet committed per partition
 */
public record KafkaGroupLag(
    String topic,
    String group,
    Map<Integer, Long> committed,
    Map<Integer, Long> end,
    Map<Integer, Long> lag) {
  public KafkaGroupLag {
    committed = Map.copyOf(committed);
    end = Map.copyOf(end);
    lag = Map.copyOf(lag);
  }

  /** The total lag over every partition. */
  public long total() {
    return lag.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Reads the lag of {@code group} on {@code topic} with three Admin calls. */
  public static KafkaGroupLag read(Admin admin, String group, String topic, Duration timeout) {
    Objects.requireNonNull(admin, "admin");
    long ms = timeout.toMillis();
    try {
      TopicDescription description =
          admin
              .describeTopics(List.of(topic))
              .allTopicNames()
              .get(ms, TimeUnit.MILLISECONDS)
              .get(topic);
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
      description
          .partitions()
          .forEach(
              p -> {
                latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
                earliest.put(new TopicPartition(topic, p.partition()), OffsetSpec.earliest());
              });
      Map<TopicPartition, ListOffsetsResultInfo> ends =
          admin.listOffsets(latest).all().get(ms, TimeUnit.MILLISECONDS);
      Map<TopicPartition, ListOffsetsResultInfo> starts =
          admin.listOffsets(earliest).all().get(ms, TimeUnit.MILLISECONDS);
      Map<TopicPartition, OffsetAndMetadata> commits =
          admin
              .listConsumerGroupOffsets(group)
              .partitionsToOffsetAndMetadata()
              .get(ms, TimeUnit.MILLISECONDS);
      Map<Integer, Long> committed = new TreeMap<>();
      Map<Integer, Long> end = new TreeMap<>();
      Map<Integer, Long> lag = new TreeMap<>();
      ends.forEach(
          (tp, info) -> {
            OffsetAndMetadata c = commits.get(tp);
            long from = c != null ? c.offset() : starts.get(tp).offset();
            if (c != null) {
              committed.put(tp.partition(), c.offset());
            }
            end.put(tp.partition(), info.offset());
            lag.put(tp.partition(), Math.max(0, info.offset() - from));
          });
      return new KafkaGroupLag(topic, group, committed, end, lag);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted reading the lag of " + group, true, ex);
    } catch (ExecutionException | TimeoutException ex) {
      throw new InvalidatorException(
          "could not read the lag of group " + group + " on " + topic + ": " + ex, true, ex);
    }
  }
}
