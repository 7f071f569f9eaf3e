package dev.invalidator.kafka;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.EventSource;
import dev.invalidator.core.InvalidatorException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A member of a Kafka consumer group reading one topic: the worker's {@link EventSource} when
 * {@code transport: kafka}. One source is one consumer, used by one worker thread (a Kafka consumer
 * is not thread-safe, and neither is this class).
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li><b>Commit rule.</b> Auto-commit is off. Per partition the source keeps the records it
 *       handed out and that were not acknowledged yet; the committed offset is the lowest of those
 *       (or, when there are none, the offset after the last record handed out). So a commit never
 *       passes a record some target has not applied: a record that fails holds the commit point
 *       while later records are applied and acknowledged, and a consumer that dies leaves every
 *       unapplied record at or after its group's committed offset. Commits are synchronous, after
 *       every {@link #ack} that moves a commit point.
 *   <li><b>Retries.</b> There is no pending list: a record that was not acknowledged stays in the
 *       source's memory, and {@link #claimDueRetries} hands it out again once it has been idle for
 *       {@code backoff.delay(deliveries - 1, seed(id))}, the same schedule as on Redis.
 *   <li><b>Attempt counts</b> live in the metadata of the group's committed offset ({@link
 *       AttemptCounts}): every record still unacknowledged is at or after that offset, so whoever
 *       owns the partition next reads the counts where it starts. A count is committed before the
 *       retry that raised it is handed out, so a crash never resets it; only a first delivery that
 *       failed and was never retried is not counted after a crash (it comes back as delivery 1).
 *   <li><b>Rebalances.</b> On revocation the source commits what is contiguously acknowledged and
 *       forgets the partition's in-flight records and buffered records; the new owner reads from
 *       the committed offset, so records acknowledged after it are applied again (duplicates,
 *       harmless by G4) and nothing unapplied is skipped. A lost partition (the member was
 *       expelled) is forgotten without a commit. Acknowledgements of records of a partition no
 *       longer owned are ignored. {@link #claimAbandoned} returns nothing: Kafka itself hands a
 *       dead member's partitions to the live ones.
 *   <li><b>Bounded memory.</b> A partition with {@code maxUnacked} unacknowledged records is paused
 *       (nothing more is fetched from it) until some are acknowledged or dead-lettered.
 * </ul>
 */
public final class KafkaEventSource implements EventSource, AutoCloseable {
  /** The default consumer group. */
  public static final String DEFAULT_GROUP = "invalidator";

  /** Records fetched per {@code poll} of the Kafka consumer, by default. */
  public static final int DEFAULT_MAX_POLL_RECORDS = 500;

  /** Unacknowledged records after which a partition is paused, by default. */
  public static final int DEFAULT_MAX_UNACKED = 10_000;

  private static final Logger log = LoggerFactory.getLogger(KafkaEventSource.class);

  private final Consumer<String, byte[]> consumer;
  private final String topic;
  private final String group;
  private final Clock clock;
  private final int maxUnacked;
  private final Map<TopicPartition, PartitionState> owned = new HashMap<>();
  private final ArrayDeque<ConsumerRecord<String, byte[]>> buffer = new ArrayDeque<>();
  private final Set<TopicPartition> paused = new HashSet<>();
  private boolean warnedOmittedCounts;

  /** What the source knows about one partition it owns. */
  private static final class PartitionState {
    /** Records handed out and not acknowledged, by offset. */
    final TreeMap<Long, InFlight> unacked = new TreeMap<>();

    /** Counts read from the committed metadata for records not handed out again yet. */
    final TreeMap<Long, Long> priorCounts = new TreeMap<>();

    /** The offset after the last record handed out; -1 before the first. */
    long next = -1;

    /** The offset and metadata last committed (or found committed at assignment). */
    long committed = -1;

    String committedMetadata = "";
  }

  private static final class InFlight {
    final Map<String, String> fields;
    long deliveries;
    Instant lastDelivered;

    InFlight(Map<String, String> fields, long deliveries, Instant lastDelivered) {
      this.fields = fields;
      this.deliveries = deliveries;
      this.lastDelivered = lastDelivered;
    }
  }

  private KafkaEventSource(Builder b) {
    this.topic = b.topic;
    this.group = b.group;
    this.clock = b.clock;
    this.maxUnacked = b.maxUnacked;
    Map<String, Object> config = new HashMap<>(b.properties);
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrap);
    config.put(ConsumerConfig.GROUP_ID_CONFIG, b.group);
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    config.putIfAbsent(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.putIfAbsent(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, b.maxPollRecords);
    this.consumer =
        new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer());
    consumer.subscribe(List.of(topic), new Listener());
  }

  /** A builder for a source reading {@code topic} on the cluster at {@code bootstrap}. */
  public static Builder builder(String bootstrap, String topic) {
    return new Builder(bootstrap, topic);
  }

  /** The topic read. */
  public String topic() {
    return topic;
  }

  /** The consumer group. */
  public String group() {
    return group;
  }

  @Override
  public String destination() {
    return topic;
  }

  /** The delivery id of a record: {@code <partition>-<offset>}. */
  public static String id(int partition, long offset) {
    return partition + "-" + offset;
  }

  /**
   * Up to {@code max} records not handed out before, waiting at most {@code block} for the first. A
   * record the group had retried before (its count is in the committed metadata) comes with that
   * count plus one.
   *
   * @throws InterruptedException when interrupted while waiting
   */
  @Override
  public List<Delivery> poll(int max, Duration block) throws InterruptedException {
    if (max < 1) {
      throw new IllegalArgumentException("max must be >= 1, got " + max);
    }
    commitPending();
    if (buffer.isEmpty()) {
      ConsumerRecords<String, byte[]> records;
      try {
        records = consumer.poll(block == null || block.isNegative() ? Duration.ZERO : block);
      } catch (InterruptException ex) {
        Thread.interrupted();
        InterruptedException ie = new InterruptedException("interrupted while polling " + topic);
        ie.initCause(ex);
        throw ie;
      } catch (KafkaException ex) {
        throw new InvalidatorException("poll of " + topic + " failed: " + ex, true, ex);
      }
      records.forEach(buffer::add);
    }
    Instant now = clock.instant();
    List<Delivery> out = new ArrayList<>(Math.min(max, buffer.size()));
    boolean countsChanged = false;
    while (out.size() < max && !buffer.isEmpty()) {
      ConsumerRecord<String, byte[]> r = buffer.poll();
      PartitionState state = owned.get(new TopicPartition(r.topic(), r.partition()));
      if (state == null || r.offset() < state.next) {
        continue; // revoked meanwhile, or already handed out
      }
      Long prior = state.priorCounts.remove(r.offset());
      long deliveries = prior == null ? 1 : prior + 1;
      countsChanged |= prior != null;
      Map<String, String> fields = KafkaRecords.decode(r.value(), r.headers());
      state.unacked.put(r.offset(), new InFlight(fields, deliveries, now));
      state.next = r.offset() + 1;
      out.add(new Delivery(id(r.partition(), r.offset()), fields, deliveries));
    }
    if (countsChanged) {
      commitPending();
    }
    pauseFullPartitions();
    return out;
  }

  /** Always empty: Kafka reassigns a dead member's partitions, whose new owner reads them again. */
  @Override
  public List<Delivery> claimAbandoned(Duration minIdle, int max) {
    return List.of();
  }

  /**
   * This source's unacknowledged records whose backoff has passed, lowest offsets first, with their
   * delivery count raised by one; the raised counts are committed before they are returned.
   */
  @Override
  public List<Delivery> claimDueRetries(Backoff backoff, int max) {
    if (max < 1) {
      throw new IllegalArgumentException("max must be >= 1, got " + max);
    }
    Instant now = clock.instant();
    List<Delivery> out = new ArrayList<>();
    for (Map.Entry<TopicPartition, PartitionState> p : owned.entrySet()) {
      int partition = p.getKey().partition();
      for (Map.Entry<Long, InFlight> e : p.getValue().unacked.entrySet()) {
        if (out.size() >= max) {
          break;
        }
        InFlight f = e.getValue();
        String id = id(partition, e.getKey());
        Duration delay =
            backoff.delay((int) Math.min(Integer.MAX_VALUE, f.deliveries - 1), seed(id));
        if (now.isBefore(f.lastDelivered.plus(delay))) {
          continue;
        }
        f.deliveries++;
        f.lastDelivered = now;
        out.add(new Delivery(id, f.fields, f.deliveries));
      }
    }
    if (!out.isEmpty()) {
      commitPending();
    }
    return out;
  }

  /** A stable per-record seed for the jitter of its retries (as on Redis). */
  static long seed(String id) {
    return id.hashCode() * 0x9E3779B97F4A7C15L;
  }

  /**
   * Marks deliveries done and commits every partition whose commit point moved. Ids of partitions
   * this source no longer owns are ignored: their new owner reads those records again.
   */
  @Override
  public void ack(Collection<String> ids) {
    if (ids.isEmpty()) {
      return;
    }
    for (String id : ids) {
      int dash = id.indexOf('-');
      int partition;
      long offset;
      try {
        partition = Integer.parseInt(id.substring(0, dash));
        offset = Long.parseLong(id.substring(dash + 1));
      } catch (RuntimeException ex) {
        throw new IllegalArgumentException("not a Kafka delivery id: " + id, ex);
      }
      PartitionState state = owned.get(new TopicPartition(topic, partition));
      if (state == null) {
        log.debug(
            "ack of {} on {}: the partition was revoked; its new owner reads it again", id, topic);
        continue;
      }
      state.unacked.remove(offset);
    }
    commitPending();
    resumeDrainedPartitions();
  }

  /**
   * The offsets this source has committed (or found committed) per partition it owns, for tests and
   * status pages.
   */
  public Map<Integer, Long> committedOffsets() {
    Map<Integer, Long> out = new TreeMap<>();
    owned.forEach((tp, s) -> out.put(tp.partition(), s.committed));
    return out;
  }

  /**
   * Commits, per owned partition, the lowest unacknowledged offset (or the offset after the last
   * record handed out) with the attempt counts, where either changed. A commit that fails because
   * of a rebalance or a transient error is left for the next call; nothing is lost by that, only
   * redelivered.
   */
  private void commitPending() {
    Map<TopicPartition, OffsetAndMetadata> commits = new LinkedHashMap<>();
    Map<TopicPartition, String> metadata = new HashMap<>();
    for (Map.Entry<TopicPartition, PartitionState> e : owned.entrySet()) {
      PartitionState s = e.getValue();
      long offset = s.unacked.isEmpty() ? s.next : s.unacked.firstKey();
      if (offset < 0) {
        continue; // nothing handed out yet
      }
      Map<Long, Long> counts = new TreeMap<>(s.priorCounts);
      s.unacked.forEach(
          (o, f) -> {
            if (f.deliveries > 1) {
              counts.put(o, f.deliveries);
            }
          });
      counts.keySet().removeIf(o -> o < offset);
      AttemptCounts.Encoded enc = AttemptCounts.encode(counts);
      if (enc.omitted() > 0 && !warnedOmittedCounts) {
        warnedOmittedCounts = true;
        log.warn(
            "{} attempt counts of {} do not fit in the committed offset's metadata; a crash"
                + " would restart their counts",
            enc.omitted(),
            e.getKey());
      }
      if (offset != s.committed || !enc.metadata().equals(s.committedMetadata)) {
        commits.put(e.getKey(), new OffsetAndMetadata(offset, enc.metadata()));
        metadata.put(e.getKey(), enc.metadata());
      }
    }
    if (commits.isEmpty()) {
      return;
    }
    try {
      consumer.commitSync(commits);
    } catch (CommitFailedException ex) {
      log.warn(
          "commit of {} for group {} failed (the group rebalanced); the records are read again"
              + " by the partitions' next owner: {}",
          commits.keySet(),
          group,
          ex.toString());
      return;
    } catch (RetriableException ex) {
      log.debug(
          "commit of {} failed, retried on the next call: {}", commits.keySet(), ex.toString());
      return;
    } catch (InterruptException ex) {
      Thread.currentThread().interrupt();
      return;
    } catch (KafkaException ex) {
      throw new InvalidatorException(
          "commit of " + commits.keySet() + " for group " + group + " failed: " + ex, true, ex);
    }
    commits.forEach(
        (tp, om) -> {
          PartitionState s = owned.get(tp);
          if (s != null) {
            s.committed = om.offset();
            s.committedMetadata = metadata.get(tp);
          }
        });
  }

  private void pauseFullPartitions() {
    List<TopicPartition> full = new ArrayList<>();
    owned.forEach(
        (tp, s) -> {
          if (s.unacked.size() >= maxUnacked && !paused.contains(tp)) {
            full.add(tp);
          }
        });
    if (!full.isEmpty()) {
      log.warn(
          "pausing {}: {} or more records wait for acknowledgement (a target fails them)",
          full,
          maxUnacked);
      consumer.pause(full);
      paused.addAll(full);
    }
  }

  private void resumeDrainedPartitions() {
    List<TopicPartition> drained = new ArrayList<>();
    for (TopicPartition tp : paused) {
      PartitionState s = owned.get(tp);
      if (s == null || s.unacked.size() < maxUnacked) {
        drained.add(tp);
      }
    }
    if (!drained.isEmpty()) {
      drained.forEach(paused::remove);
      List<TopicPartition> stillOwned = drained.stream().filter(owned::containsKey).toList();
      if (!stillOwned.isEmpty()) {
        consumer.resume(stillOwned);
        log.info("resumed {}", stillOwned);
      }
    }
  }

  private void forget(Collection<TopicPartition> partitions) {
    for (TopicPartition tp : partitions) {
      owned.remove(tp);
      paused.remove(tp);
    }
    for (Iterator<ConsumerRecord<String, byte[]>> it = buffer.iterator(); it.hasNext(); ) {
      ConsumerRecord<String, byte[]> r = it.next();
      if (partitions.contains(new TopicPartition(r.topic(), r.partition()))) {
        it.remove();
      }
    }
  }

  /** Runs inside {@link Consumer#poll} (and {@link Consumer#close}), on the worker's thread. */
  private final class Listener implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      if (partitions.isEmpty()) {
        return;
      }
      commitPending();
      int inFlight = 0;
      for (TopicPartition tp : partitions) {
        PartitionState s = owned.get(tp);
        inFlight += s == null ? 0 : s.unacked.size();
      }
      log.info(
          "partitions {} of group {} revoked; committed what was acknowledged, {} unacknowledged"
              + " records go to the next owner",
          partitions,
          group,
          inFlight);
      forget(partitions);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      log.warn(
          "partitions {} of group {} lost (this member was expelled); their records go to the next"
              + " owner from the last commit",
          partitions,
          group);
      forget(partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      if (partitions.isEmpty()) {
        return;
      }
      Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(Set.copyOf(partitions));
      for (TopicPartition tp : partitions) {
        PartitionState s = new PartitionState();
        OffsetAndMetadata om = committed.get(tp);
        if (om != null) {
          s.committed = om.offset();
          s.committedMetadata = om.metadata() == null ? "" : om.metadata();
          s.priorCounts.putAll(AttemptCounts.decode(om.metadata()));
        }
        owned.put(tp, s);
      }
      log.info("partitions {} of group {} assigned", partitions, group);
    }
  }

  /**
   * Leaves the group. Revocation commits what is contiguously acknowledged, never past a record
   * still unacknowledged; the rest is read again by the partitions' next owner. Waits at most
   * {@link #CLOSE_TIMEOUT} for the commit and the leave (the client's default is 30 s, which a
   * close during a rebalance or with the broker gone waits out in full); what is not committed by
   * then is read again.
   */
  @Override
  public void close() {
    consumer.close(CloseOptions.timeout(CLOSE_TIMEOUT));
  }

  /** How long {@link #close()} waits for the commit on revocation and for leaving the group. */
  public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(2);

  /** Settings of a {@link KafkaEventSource}; {@link #build()} validates them. */
  public static final class Builder {
    private final String bootstrap;
    private final String topic;
    private String group = DEFAULT_GROUP;
    private Clock clock = Clock.systemUTC();
    private int maxPollRecords = DEFAULT_MAX_POLL_RECORDS;
    private int maxUnacked = DEFAULT_MAX_UNACKED;
    private final Map<String, Object> properties = new HashMap<>();

    private Builder(String bootstrap, String topic) {
      this.bootstrap = bootstrap;
      this.topic = topic;
    }

    /** The consumer group; default {@value KafkaEventSource#DEFAULT_GROUP}. */
    public Builder group(String group) {
      this.group = group;
      return this;
    }

    /** The clock of retry due times; default the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Records fetched per poll of the consumer (1..10000); default 500. */
    public Builder maxPollRecords(int n) {
      this.maxPollRecords = n;
      return this;
    }

    /** Unacknowledged records after which a partition is paused (>= 1); default 10000. */
    public Builder maxUnacked(int n) {
      this.maxUnacked = n;
      return this;
    }

    /**
     * A consumer property passed through unchanged (security, session timeout, {@code client.id}).
     * {@code enable.auto.commit} is always false.
     */
    public Builder consumerProperty(String name, Object value) {
      properties.put(Objects.requireNonNull(name, "name"), value);
      return this;
    }

    /** Validates the settings, creates the consumer and subscribes it to the topic. */
    public KafkaEventSource build() {
      KafkaSettings.requireBootstrap(bootstrap);
      KafkaSettings.requireTopic(topic);
      KafkaSettings.requireGroup(group);
      Objects.requireNonNull(clock, "clock");
      if (maxPollRecords < 1 || maxPollRecords > 10_000) {
        throw new IllegalArgumentException(
            "kafka.maxPollRecords must be 1..10000, got " + maxPollRecords);
      }
      if (maxUnacked < 1) {
        throw new IllegalArgumentException("kafka.maxUnacked must be >= 1, got " + maxUnacked);
      }
      if ("true".equals(String.valueOf(properties.get(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG)))) {
        throw new IllegalArgumentException(
            "kafka.consumer: enable.auto.commit=true would commit records before they are applied");
      }
      return new KafkaEventSource(this);
    }
  }
}
