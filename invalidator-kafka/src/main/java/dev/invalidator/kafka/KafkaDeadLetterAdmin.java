package dev.invalidator.kafka;

import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.StreamEntry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * What {@code invalidator dlq} needs on the dead-letter topic {@code <topic>-dlt}: list, redrive
 * and drop.
 *
 * <p>Design notes. A topic cannot delete one record, so "handled" (redriven or dropped) is kept as
 * the committed offset of a consumer group that never consumes ({@value #DEFAULT_GROUP} by
 * default), per partition of the dead-letter topic: every record before it is handled. Records
 * handled out of order after it are listed in that offset's metadata ({@code h1:<offset>,...}); the
 * mark advances over them as soon as they become contiguous. Redrive produces the original value
 * (with its key) to the original topic and waits for the acknowledgement before it marks the dead
 * letter handled: a crash in between redrives twice, harmless by G4. Each call opens and closes its
 * own clients: this is for a command line and an admin page, not for a loop.
 */
public final class KafkaDeadLetterAdmin {
  /** The group whose committed offsets mark handled dead letters, by default. */
  public static final String DEFAULT_GROUP = "invalidator-dlq";

  /** Most out-of-order handled offsets kept per partition (the metadata is bounded). */
  public static final int MAX_OUT_OF_ORDER = 200;

  /** How long one call waits for the cluster, by default. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private static final String PREFIX = "h1:";
  private static final java.util.regex.Pattern ID =
      java.util.regex.Pattern.compile("([0-9]{1,9})-([0-9]{1,19})");

  private final String bootstrap;
  private final String sourceTopic;
  private final String topic;
  private final String group;
  private final Duration timeout;
  private final Map<String, Object> clientProperties;

  /**
   * @param sourceTopic the event topic; its dead letters are in {@code <sourceTopic>-dlt}
   * @param group the group marking handled dead letters; {@link #DEFAULT_GROUP} normally
   */
  public KafkaDeadLetterAdmin(String bootstrap, String sourceTopic, String group) {
    this(bootstrap, sourceTopic, group, DEFAULT_TIMEOUT);
  }

  /**
   * Like {@link #KafkaDeadLetterAdmin(String, String, String)}, each call waiting at most about
   * {@code timeout} for the cluster (an admin page answers sooner than a command line must).
   */
  public KafkaDeadLetterAdmin(
      String bootstrap, String sourceTopic, String group, Duration timeout) {
    this(bootstrap, sourceTopic, group, timeout, Map.of());
  }

  /**
   * Like {@link #KafkaDeadLetterAdmin(String, String, String, Duration)}, with client settings
   * (security: {@code security.protocol}, {@code sasl.*}, {@code ssl.*}) passed through to its
   * admin client, consumer and producer.
   */
  public KafkaDeadLetterAdmin(
      String bootstrap,
      String sourceTopic,
      String group,
      Duration timeout,
      Map<String, Object> clientProperties) {
    this.clientProperties = Map.copyOf(clientProperties);
    KafkaSettings.requireBootstrap(bootstrap);
    KafkaSettings.requireTopic(sourceTopic);
    KafkaSettings.requireGroup(group);
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, got " + timeout);
    }
    this.bootstrap = bootstrap;
    this.sourceTopic = sourceTopic;
    this.topic = sourceTopic + KafkaDeadLetters.SUFFIX;
    this.group = group;
    this.timeout = timeout;
  }

  /** A dead letter as stored; {@link #id()} is {@code <dlt partition>-<dlt offset>}. */
  public record Stored(
      int partition,
      long offset,
      String originalTopic,
      Integer originalPartition,
      Long originalOffset,
      String reason,
      String target,
      long attempts,
      Instant firstFailure,
      Instant lastFailure,
      String lastError,
      String key,
      Map<String, String> original) {
    public Stored {
      original = Map.copyOf(original);
    }

    public String id() {
      return partition + "-" + offset;
    }

    /** The tenant of the original event, read leniently (null for poison). */
    public String tenant() {
      try {
        return StreamEntry.event(original).tenantId();
      } catch (RuntimeException ex) {
        return null;
      }
    }
  }

  /** Unhandled dead letters, oldest first per partition, at most {@code limit}. */
  public List<Stored> list(int limit) {
    List<Stored> out = new ArrayList<>();
    try (Admin admin = admin();
        KafkaConsumer<String, byte[]> consumer = consumer()) {
      Map<TopicPartition, Marks> marks = marks(admin);
      List<TopicPartition> parts = new ArrayList<>(marks.keySet());
      consumer.assign(parts);
      Map<TopicPartition, Long> ends = consumer.endOffsets(parts, timeout);
      for (TopicPartition tp : parts) {
        Marks m = marks.get(tp);
        long end = ends.getOrDefault(tp, 0L);
        if (m.mark >= end) {
          continue;
        }
        consumer.assign(List.of(tp));
        if (m.mark > 0) {
          consumer.seek(tp, m.mark);
        } else {
          consumer.seekToBeginning(List.of(tp));
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        while (out.size() < limit && consumer.position(tp) < end && System.nanoTime() < deadline) {
          for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
            if (r.offset() < end && !m.handled.contains(r.offset()) && out.size() < limit) {
              out.add(parse(r));
            }
          }
        }
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted listing " + topic, true, ex);
    } catch (ExecutionException | TimeoutException ex) {
      throw new InvalidatorException("could not list " + topic + ": " + ex, true, ex);
    }
    return out;
  }

  /**
   * The unhandled dead letter {@code <partition>-<offset>}, read at its offset (assign and seek, no
   * group), or empty when there is none there or it was handled.
   *
   * @throws IllegalArgumentException when {@code id} is not {@code <partition>-<offset>}
   */
  public java.util.Optional<Stored> find(String id) {
    java.util.regex.Matcher m = ID.matcher(id);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + id + "' is not a dead-letter id of " + topic + " (<partition>-<offset>)");
    }
    TopicPartition tp;
    long offset;
    try {
      tp = new TopicPartition(topic, Integer.parseInt(m.group(1)));
      offset = Long.parseLong(m.group(2));
    } catch (NumberFormatException ex) {
      throw new IllegalArgumentException("'" + id + "' is out of range", ex);
    }
    try (Admin admin = admin();
        KafkaConsumer<String, byte[]> consumer = consumer()) {
      Marks marks = marks(admin).get(tp);
      if (marks == null || offset < marks.mark || marks.handled.contains(offset)) {
        return java.util.Optional.empty();
      }
      consumer.assign(List.of(tp));
      long end = consumer.endOffsets(List.of(tp), timeout).getOrDefault(tp, 0L);
      if (offset >= end) {
        return java.util.Optional.empty();
      }
      consumer.seek(tp, offset);
      long deadline = System.nanoTime() + timeout.toNanos();
      while (consumer.position(tp) <= offset && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          if (r.offset() == offset) {
            return java.util.Optional.of(parse(r));
          }
        }
      }
      return java.util.Optional.empty();
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted reading " + topic, true, ex);
    } catch (ExecutionException | TimeoutException ex) {
      throw new InvalidatorException("could not read " + id + " of " + topic + ": " + ex, true, ex);
    }
  }

  /**
   * Produces each dead letter's original value and key to the original topic, waits for the
   * acknowledgements, then marks them handled. Returns how many were redriven.
   */
  public int redrive(List<Stored> letters) {
    return redriveTo(letters).size();
  }

  /**
   * Like {@link #redrive}, returning where each original went, in the order given: {@code
   * <topic>/<partition>-<offset>}.
   */
  public List<String> redriveTo(List<Stored> letters) {
    if (letters.isEmpty()) {
      return List.of();
    }
    List<String> positions = new ArrayList<>();
    Map<String, Object> config = new HashMap<>(clientProperties);
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    config.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<String, byte[]> producer =
        new KafkaProducer<>(config, new StringSerializer(), new ByteArraySerializer())) {
      List<Future<RecordMetadata>> acks = new ArrayList<>();
      for (Stored s : letters) {
        String target = s.originalTopic() != null ? s.originalTopic() : sourceTopic;
        Map<String, String> fields = new java.util.LinkedHashMap<>(s.original());
        fields.put(StreamEntry.PUBLISHED_AT_MS, Long.toString(System.currentTimeMillis()));
        fields.put("redriven_from", topic + "/" + s.id());
        acks.add(producer.send(new ProducerRecord<>(target, s.key(), KafkaRecords.encode(fields))));
      }
      for (Future<RecordMetadata> f : acks) {
        RecordMetadata md = f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        positions.add(md.topic() + "/" + md.partition() + "-" + md.offset());
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted while redriving from " + topic, true, ex);
    } catch (ExecutionException | TimeoutException ex) {
      throw new InvalidatorException("could not redrive from " + topic + ": " + ex, true, ex);
    }
    markHandled(letters);
    return positions;
  }

  /** Marks dead letters handled without redriving them; returns how many. */
  public int drop(List<Stored> letters) {
    markHandled(letters);
    return letters.size();
  }

  /** Unhandled dead letters: the {@code dlq_depth} gauge. */
  public long depth() {
    try (Admin admin = admin()) {
      Map<TopicPartition, Marks> marks = marks(admin);
      Map<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest = new HashMap<>();
      marks
          .keySet()
          .forEach(tp -> latest.put(tp, org.apache.kafka.clients.admin.OffsetSpec.latest()));
      long depth = 0;
      var ends = admin.listOffsets(latest).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      for (var e : marks.entrySet()) {
        long end = ends.get(e.getKey()).offset();
        depth += Math.max(0, end - e.getValue().mark - e.getValue().handled.size());
      }
      return depth;
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted reading the depth of " + topic, true, ex);
    } catch (ExecutionException | TimeoutException ex) {
      throw new InvalidatorException("could not read the depth of " + topic + ": " + ex, true, ex);
    }
  }

  private void markHandled(Collection<Stored> letters) {
    if (letters.isEmpty()) {
      return;
    }
    try (Admin admin = admin()) {
      Map<TopicPartition, Marks> marks = marks(admin);
      Map<TopicPartition, OffsetAndMetadata> commits = new HashMap<>();
      for (Stored s : letters) {
        TopicPartition tp = new TopicPartition(topic, s.partition());
        Marks m = marks.computeIfAbsent(tp, k -> new Marks(0, new TreeSet<>()));
        m.handled.add(s.offset());
        commits.put(tp, null);
      }
      for (TopicPartition tp : commits.keySet()) {
        Marks m = marks.get(tp);
        m.handled.removeIf(o -> o < m.mark);
        while (m.handled.remove(m.mark)) {
          m.mark++;
        }
        if (m.handled.size() > MAX_OUT_OF_ORDER) {
          throw new IllegalStateException(
              "more than "
                  + MAX_OUT_OF_ORDER
                  + " dead letters of "
                  + tp
                  + " handled out of order; handle the oldest first");
        }
        StringBuilder meta = new StringBuilder(m.handled.isEmpty() ? "" : PREFIX);
        m.handled.forEach(o -> meta.append(meta.length() > PREFIX.length() ? "," : "").append(o));
        commits.put(tp, new OffsetAndMetadata(m.mark, meta.toString()));
      }
      admin
          .alterConsumerGroupOffsets(group, commits)
          .all()
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted marking dead letters of " + topic, true, ex);
    } catch (ExecutionException | TimeoutException ex) {
      throw new InvalidatorException(
          "could not mark dead letters of " + topic + " handled: " + ex, true, ex);
    }
  }

  private static final class Marks {
    long mark;
    final TreeSet<Long> handled;

    Marks(long mark, TreeSet<Long> handled) {
      this.mark = mark;
      this.handled = handled;
    }
  }

  /** Every partition of the dead-letter topic with its handled mark. */
  private Map<TopicPartition, Marks> marks(Admin admin)
      throws InterruptedException, ExecutionException, TimeoutException {
    TopicDescription d =
        admin
            .describeTopics(List.of(topic))
            .allTopicNames()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS)
            .get(topic);
    Map<TopicPartition, OffsetAndMetadata> committed =
        admin
            .listConsumerGroupOffsets(group)
            .partitionsToOffsetAndMetadata()
            .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    Map<TopicPartition, Marks> out =
        new TreeMap<>(java.util.Comparator.comparingInt(TopicPartition::partition));
    d.partitions()
        .forEach(
            p -> {
              TopicPartition tp = new TopicPartition(topic, p.partition());
              OffsetAndMetadata om = committed.get(tp);
              TreeSet<Long> handled = new TreeSet<>();
              if (om != null && om.metadata() != null && om.metadata().startsWith(PREFIX)) {
                for (String s : om.metadata().substring(PREFIX.length()).split(",")) {
                  try {
                    handled.add(Long.parseLong(s));
                  } catch (NumberFormatException ex) {
                    // ignore a bad item
                  }
                }
              }
              out.put(tp, new Marks(om == null ? 0 : om.offset(), handled));
            });
    return out;
  }

  private Admin admin() {
    int ms = (int) timeout.toMillis();
    Map<String, Object> config = new HashMap<>(clientProperties);
    config.put("bootstrap.servers", bootstrap);
    config.put("default.api.timeout.ms", ms);
    config.put("request.timeout.ms", Math.min(ms, 30_000));
    return Admin.create(config);
  }

  /** A consumer without a group: it assigns and seeks, and never commits. */
  private KafkaConsumer<String, byte[]> consumer() {
    int ms = (int) timeout.toMillis();
    Map<String, Object> config = new HashMap<>(clientProperties);
    config.put("bootstrap.servers", bootstrap);
    config.put("enable.auto.commit", false);
    config.put("default.api.timeout.ms", ms);
    config.put("request.timeout.ms", Math.min(ms, 30_000));
    return new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer());
  }

  private static Stored parse(ConsumerRecord<String, byte[]> r) {
    Header p = r.headers().lastHeader(KafkaDeadLetters.ORIGINAL_PARTITION);
    Header o = r.headers().lastHeader(KafkaDeadLetters.ORIGINAL_OFFSET);
    long attempts;
    try {
      attempts =
          Long.parseLong(Objects.requireNonNullElse(text(r, KafkaDeadLetters.ATTEMPTS), "0"));
    } catch (NumberFormatException ex) {
      attempts = 0;
    }
    return new Stored(
        r.partition(),
        r.offset(),
        text(r, KafkaDeadLetters.ORIGINAL_TOPIC),
        p == null || p.value().length != 4 ? null : KafkaDeadLetters.intHeader(p.value()),
        o == null || o.value().length != 8 ? null : KafkaDeadLetters.longHeader(o.value()),
        text(r, KafkaDeadLetters.REASON),
        text(r, KafkaDeadLetters.TARGET),
        attempts,
        instant(text(r, KafkaDeadLetters.FIRST_FAILURE)),
        instant(text(r, KafkaDeadLetters.LAST_FAILURE)),
        text(r, KafkaDeadLetters.EXCEPTION_MESSAGE),
        r.key(),
        KafkaRecords.decode(r.value(), null));
  }

  private static String text(ConsumerRecord<String, byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
  }

  private static Instant instant(String s) {
    if (s == null) {
      return null;
    }
    try {
      return Instant.parse(s);
    } catch (DateTimeParseException ex) {
      return null;
    }
  }
}
