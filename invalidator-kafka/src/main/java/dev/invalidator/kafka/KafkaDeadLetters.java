package dev.invalidator.kafka;

import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.DeadLetters;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.StreamEntry;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Dead letters in the topic {@code <topic>-dlt}, one record per dead letter (Spring Kafka's
 * naming).
 *
 * <p>The value is the original record's fields in the topic's one encoding (a poison record's bytes
 * travel as its {@code event} field), so redriving a dead letter is producing its value to the
 * original topic again. The key is the original's key when its event can be read, else none.
 * Headers, after Spring Kafka's {@code DeadLetterPublishingRecoverer} (same names and binary forms,
 * so its tooling reads them): {@value #ORIGINAL_TOPIC} (UTF-8), {@value #ORIGINAL_PARTITION}
 * (4-byte big-endian int), {@value #ORIGINAL_OFFSET} (8-byte big-endian long), {@value
 * #EXCEPTION_MESSAGE} (UTF-8, credentials masked); and Invalidator's own, all UTF-8: {@value
 * #REASON}, {@value #TARGET}, {@value #ATTEMPTS}, {@value #FIRST_FAILURE} and {@value
 * #LAST_FAILURE} (ISO-8601).
 */
public final class KafkaDeadLetters implements DeadLetters, AutoCloseable {
  /** The dead-letter topic's suffix. */
  public static final String SUFFIX = "-dlt";

  public static final String ORIGINAL_TOPIC = "kafka_dlt-original-topic";
  public static final String ORIGINAL_PARTITION = "kafka_dlt-original-partition";
  public static final String ORIGINAL_OFFSET = "kafka_dlt-original-offset";
  public static final String EXCEPTION_MESSAGE = "kafka_dlt-exception-message";
  public static final String REASON = "invalidator_dlt-reason";
  public static final String TARGET = "invalidator_dlt-target";
  public static final String ATTEMPTS = "invalidator_dlt-attempts";
  public static final String FIRST_FAILURE = "invalidator_dlt-first-failure";
  public static final String LAST_FAILURE = "invalidator_dlt-last-failure";

  /** Longest error message stored, in characters. */
  public static final int MAX_ERROR_LENGTH = 4_000;

  private static final Duration ACK_TIMEOUT = Duration.ofSeconds(30);
  private static final Pattern URL_CREDENTIALS =
      Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://)[^/@\\s]+@");
  private static final Pattern PASSWORD_PARAMETER =
      Pattern.compile("(?i)(pass(?:word)?|secret|token)=[^&\\s,;]+");

  private final Producer<String, byte[]> producer;
  private final String sourceTopic;
  private final String topic;

  /**
   * @param bootstrap the cluster
   * @param sourceTopic the topic the dead letters come from; they go to {@code <sourceTopic>-dlt}
   * @param producerProperties passed through (security); idempotence and {@code acks=all} are fixed
   */
  public KafkaDeadLetters(
      String bootstrap, String sourceTopic, Map<String, Object> producerProperties) {
    KafkaSettings.requireBootstrap(bootstrap);
    KafkaSettings.requireTopic(sourceTopic);
    this.sourceTopic = sourceTopic;
    this.topic = sourceTopic + SUFFIX;
    Map<String, Object> config = new HashMap<>(producerProperties);
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    config.putIfAbsent(ProducerConfig.CLIENT_ID_CONFIG, "invalidator-dlt");
    this.producer = new KafkaProducer<>(config, new StringSerializer(), new ByteArraySerializer());
  }

  /** The dead-letter topic. */
  public String topic() {
    return topic;
  }

  /**
   * Writes a dead letter and returns once the broker acknowledged it.
   *
   * @throws InvalidatorException (retryable) if it was not acknowledged; the worker then leaves the
   *     record unacknowledged
   */
  @Override
  public void add(DeadLetter dl) {
    ProducerRecord<String, byte[]> r =
        new ProducerRecord<>(topic, keyOf(dl.original()), KafkaRecords.encode(dl.original()));
    Headers h = r.headers();
    h.add(ORIGINAL_TOPIC, KafkaRecords.utf8(sourceTopic));
    int dash = dl.sourceId().indexOf('-');
    try {
      int partition = Integer.parseInt(dl.sourceId().substring(0, dash));
      long offset = Long.parseLong(dl.sourceId().substring(dash + 1));
      h.add(ORIGINAL_PARTITION, ByteBuffer.allocate(4).putInt(partition).array());
      h.add(ORIGINAL_OFFSET, ByteBuffer.allocate(8).putLong(offset).array());
    } catch (RuntimeException ex) {
      throw new IllegalArgumentException("not a Kafka delivery id: " + dl.sourceId(), ex);
    }
    if (dl.lastError() != null) {
      h.add(EXCEPTION_MESSAGE, KafkaRecords.utf8(redact(dl.lastError())));
    }
    h.add(REASON, KafkaRecords.utf8(dl.reason()));
    h.add(TARGET, KafkaRecords.utf8(dl.target()));
    h.add(ATTEMPTS, KafkaRecords.utf8(Long.toString(dl.attempts())));
    putInstant(h, FIRST_FAILURE, dl.firstFailure());
    putInstant(h, LAST_FAILURE, dl.lastFailure());
    try {
      producer.send(r).get(ACK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted while writing to " + topic, true, ex);
    } catch (ExecutionException | TimeoutException | RuntimeException ex) {
      throw new InvalidatorException(
          "could not write dead letter " + dl.sourceId() + " to " + topic + ": " + ex, true, ex);
    }
  }

  /** Decodes a header written as a 4-byte int by {@link #add}. */
  public static int intHeader(byte[] b) {
    return ByteBuffer.wrap(b).getInt();
  }

  /** Decodes a header written as an 8-byte long by {@link #add}. */
  public static long longHeader(byte[] b) {
    return ByteBuffer.wrap(b).getLong();
  }

  private static String keyOf(Map<String, String> original) {
    try {
      return KafkaRecords.key(StreamEntry.event(original));
    } catch (RuntimeException ex) {
      return null; // a poison record: no aggregate to key by
    }
  }

  private static void putInstant(Headers h, String name, Instant instant) {
    if (instant != null) {
      h.add(name, KafkaRecords.utf8(instant.toString()));
    }
  }

  static String redact(String error) {
    String masked = URL_CREDENTIALS.matcher(error).replaceAll("$1***@");
    masked = PASSWORD_PARAMETER.matcher(masked).replaceAll("$1=***");
    return masked.length() <= MAX_ERROR_LENGTH ? masked : masked.substring(0, MAX_ERROR_LENGTH);
  }

  @Override
  public void close() {
    producer.close(Duration.ofSeconds(2));
  }

  /** The source topic whose dead letters this writes. */
  public String sourceTopic() {
    return Objects.requireNonNull(sourceTopic);
  }
}
