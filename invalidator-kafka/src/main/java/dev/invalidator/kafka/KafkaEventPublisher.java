package dev.invalidator.kafka;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.StreamEntry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes relayed outbox rows to a Kafka topic: the relay's {@link EventPublisher} when {@code
 * transport: kafka}.
 *
 * <p>Design notes. The producer is idempotent with {@code acks=all} (the client defaults, set
 * explicitly so a property file cannot turn them off by accident): the broker acknowledges a record
 * only once every in-sync replica has it, and retries inside the client cannot duplicate or reorder
 * records of one partition. Records are keyed by tenant and aggregate ({@link KafkaRecords#key}),
 * so one aggregate's events stay in one partition, in publish order. {@link #publish} sends the
 * whole batch, then waits for every acknowledgement; any failure fails the batch, so the relay
 * rolls back its mark and publishes again (a duplicate for the records that did go out, harmless by
 * G4).
 */
public final class KafkaEventPublisher implements EventPublisher, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KafkaEventPublisher.class);

  /** How long {@link #publish} waits for the broker's acknowledgements, by default. */
  public static final Duration DEFAULT_ACK_TIMEOUT = Duration.ofSeconds(30);

  private final Producer<String, byte[]> producer;
  private final String topic;
  private final Clock clock;
  private final Duration ackTimeout;

  private KafkaEventPublisher(Builder b) {
    this.topic = b.topic;
    this.clock = b.clock;
    this.ackTimeout = b.ackTimeout;
    Map<String, Object> config = new HashMap<>(b.properties);
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrap);
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "invalidator-relay");
    this.producer = new KafkaProducer<>(config, new StringSerializer(), new ByteArraySerializer());
  }

  /** A builder for a publisher writing to {@code topic} on the cluster at {@code bootstrap}. */
  public static Builder builder(String bootstrap, String topic) {
    return new Builder(bootstrap, topic);
  }

  /** The topic records are written to. */
  public String topic() {
    return topic;
  }

  @Override
  public String destination() {
    return topic;
  }

  /**
   * Sends every event of {@code batch} and returns once the broker acknowledged them all.
   *
   * @throws InvalidatorException (retryable) if any record was not acknowledged within the ack
   *     timeout
   */
  @Override
  public void publish(List<Outgoing> batch) {
    if (batch.isEmpty()) {
      return;
    }
    Instant now = clock.instant();
    List<Future<RecordMetadata>> acks = new ArrayList<>(batch.size());
    try {
      for (Outgoing o : batch) {
        acks.add(producer.send(record(o, now)));
      }
    } catch (RuntimeException ex) {
      // send() itself failed (serialization, a closed producer, metadata not available in
      // max.block.ms): nothing of this batch counts as published.
      throw new InvalidatorException(
          "could not send " + batch.size() + " events to " + topic + ": " + ex, true, ex);
    }
    long deadline = System.nanoTime() + ackTimeout.toNanos();
    int failed = 0;
    Exception first = null;
    for (Future<RecordMetadata> f : acks) {
      try {
        f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new InvalidatorException("interrupted while publishing to " + topic, true, ex);
      } catch (ExecutionException | TimeoutException ex) {
        failed++;
        if (first == null) {
          first = ex;
        }
      }
    }
    if (failed > 0) {
      log.debug("{} of {} records to {} failed: {}", failed, batch.size(), topic, first.toString());
      throw new InvalidatorException(
          "could not publish " + failed + " of " + batch.size() + " events to " + topic,
          true,
          first);
    }
  }

  private ProducerRecord<String, byte[]> record(Outgoing o, Instant now) {
    InvalidationEvent e = o.event();
    ProducerRecord<String, byte[]> r =
        new ProducerRecord<>(
            topic,
            KafkaRecords.key(e),
            KafkaRecords.encode(StreamEntry.fields(o.outboxId(), e, e.createdAt(), now)));
    if (e.trace().traceparent() != null) {
      r.headers().add(StreamEntry.TRACEPARENT, KafkaRecords.utf8(e.trace().traceparent()));
    }
    if (e.trace().tracestate() != null) {
      r.headers().add(StreamEntry.TRACESTATE, KafkaRecords.utf8(e.trace().tracestate()));
    }
    return r;
  }

  /** Closes the producer, waiting at most 5 s for records still in flight. */
  @Override
  public void close() {
    producer.close(Duration.ofSeconds(2));
  }

  /** Settings of a {@link KafkaEventPublisher}; {@link #build()} validates them. */
  public static final class Builder {
    private final String bootstrap;
    private final String topic;
    private Clock clock = Clock.systemUTC();
    private Duration ackTimeout = DEFAULT_ACK_TIMEOUT;
    private final Map<String, Object> properties = new HashMap<>();

    private Builder(String bootstrap, String topic) {
      this.bootstrap = bootstrap;
      this.topic = topic;
    }

    /** The source of {@code published_at_ms}; default the system UTC clock. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** How long a publish waits for every acknowledgement; default 30 s. */
    public Builder ackTimeout(Duration d) {
      this.ackTimeout = d;
      return this;
    }

    /**
     * A producer property passed through unchanged (security, compression, linger). {@code
     * enable.idempotence} and {@code acks} are always {@code true} and {@code all}.
     */
    public Builder producerProperty(String name, Object value) {
      properties.put(Objects.requireNonNull(name, "name"), value);
      return this;
    }

    /** Validates the settings and creates the producer. */
    public KafkaEventPublisher build() {
      KafkaSettings.requireBootstrap(bootstrap);
      KafkaSettings.requireTopic(topic);
      Objects.requireNonNull(clock, "clock");
      if (ackTimeout == null || ackTimeout.isNegative() || ackTimeout.isZero()) {
        throw new IllegalArgumentException(
            "kafka.ackTimeout must be a positive duration, got " + ackTimeout);
      }
      if ("false".equals(String.valueOf(properties.get(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG)))
          || (properties.containsKey(ProducerConfig.ACKS_CONFIG)
              && !"all".equals(String.valueOf(properties.get(ProducerConfig.ACKS_CONFIG)))
              && !"-1".equals(String.valueOf(properties.get(ProducerConfig.ACKS_CONFIG))))) {
        throw new IllegalArgumentException(
            "kafka.producer: enable.idempotence=true and acks=all are required by the relay's"
                + " guarantee and cannot be changed");
      }
      return new KafkaEventPublisher(this);
    }
  }
}
