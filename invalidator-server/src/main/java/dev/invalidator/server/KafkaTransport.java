package dev.invalidator.server;

import dev.invalidator.core.InvalidatorException;
import dev.invalidator.kafka.KafkaDeadLetterAdmin;
import dev.invalidator.kafka.KafkaDeadLetters;
import dev.invalidator.kafka.KafkaEventPublisher;
import dev.invalidator.kafka.KafkaEventSource;
import dev.invalidator.kafka.KafkaGroupLag;
import dev.invalidator.redis.StreamStats;
import dev.invalidator.server.config.InvalidatorConfig;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's side of {@code transport: kafka}: builds the invalidator-kafka adapters from the
 * configuration, creates the event and dead-letter topics when they are missing, and reads the
 * group's lag in the shape {@code invalidator status} and the gauges already use ({@link
 * StreamStats}). Redis stays the cache: only the event transport and the dead letters move.
 */
final class KafkaTransport implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KafkaTransport.class);
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  private final InvalidatorConfig.Kafka cfg;
  private Admin admin;

  KafkaTransport(InvalidatorConfig.Kafka cfg) {
    if (!cfg.enabled()) {
      throw new IllegalArgumentException("transport is " + cfg.transport() + ", not kafka");
    }
    this.cfg = cfg;
  }

  String topic() {
    return cfg.topic();
  }

  String group() {
    return cfg.groupId();
  }

  String deadLetterTopic() {
    return cfg.topic() + KafkaDeadLetters.SUFFIX;
  }

  KafkaEventPublisher publisher(Clock clock) {
    return KafkaEventPublisher.builder(cfg.bootstrap(), cfg.topic()).clock(clock).build();
  }

  /** A consumer of {@code group}; one per worker thread (a Kafka consumer is single-threaded). */
  KafkaEventSource source(String group, String clientId, Clock clock) {
    return KafkaEventSource.builder(cfg.bootstrap(), cfg.topic())
        .group(group)
        .clock(clock)
        .consumerProperty("client.id", clientId.replaceAll("[^A-Za-z0-9._-]", "_"))
        .build();
  }

  KafkaDeadLetters deadLetters() {
    return new KafkaDeadLetters(cfg.bootstrap(), cfg.topic(), Map.of());
  }

  KafkaDeadLetterAdmin deadLetterAdmin() {
    return new KafkaDeadLetterAdmin(
        cfg.bootstrap(), cfg.topic(), KafkaDeadLetterAdmin.DEFAULT_GROUP);
  }

  /**
   * Creates the event topic ({@code kafka.partitions}) and its dead-letter topic (one partition)
   * where missing, and waits until every partition has a leader: a producer that sends before the
   * leaders are elected spends its acknowledgement time waiting for them. Existing topics are left
   * as they are.
   */
  void ensureTopics() {
    Optional<Short> rf =
        cfg.replicationFactor() < 0
            ? Optional.empty()
            : Optional.of((short) cfg.replicationFactor());
    List<NewTopic> wanted =
        List.of(
            new NewTopic(cfg.topic(), Optional.of(cfg.partitions()), rf),
            new NewTopic(deadLetterTopic(), Optional.of(1), rf));
    try {
      Set<String> existing =
          admin().listTopics().names().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      List<NewTopic> missing = new ArrayList<>();
      for (NewTopic t : wanted) {
        if (!existing.contains(t.name())) {
          missing.add(t);
        }
      }
      if (!missing.isEmpty()) {
        try {
          admin().createTopics(missing).all().get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
          log.info("created Kafka topic(s) {}", missing.stream().map(NewTopic::name).toList());
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw e;
          }
        }
      }
      awaitLeaders(cfg.topic());
      awaitLeaders(deadLetterTopic());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("interrupted creating the Kafka topics", true, e);
    } catch (ExecutionException | TimeoutException e) {
      throw new InvalidatorException(
          "could not create the Kafka topics "
              + wanted.stream().map(NewTopic::name).toList()
              + " on "
              + cfg.bootstrap()
              + ": "
              + e,
          true,
          e);
    }
  }

  private void awaitLeaders(String topic)
      throws InterruptedException, ExecutionException, TimeoutException {
    long deadline = System.nanoTime() + TIMEOUT.toNanos();
    while (true) {
      TopicDescription d =
          admin()
              .describeTopics(List.of(topic))
              .allTopicNames()
              .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
              .get(topic);
      if (d != null
          && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new TimeoutException("topic " + topic + " has partitions without a leader");
      }
      Thread.sleep(50);
    }
  }

  /**
   * The group's lag as {@link StreamStats}: length is the sum of the end offsets, lag the records
   * not committed yet (handed out but unacknowledged ones included), and nothing is "pending" in
   * the Redis sense (Kafka has no pending list).
   */
  StreamStats stats(String group) {
    KafkaGroupLag lag = KafkaGroupLag.read(admin(), group, cfg.topic(), TIMEOUT);
    long length = lag.end().values().stream().mapToLong(Long::longValue).sum();
    return new StreamStats(
        cfg.topic(),
        group,
        length,
        !lag.committed().isEmpty(),
        0,
        Map.of(),
        null,
        null,
        lag.total(),
        0);
  }

  private synchronized Admin admin() {
    if (admin == null) {
      admin =
          Admin.create(
              Map.of(
                  "bootstrap.servers",
                  cfg.bootstrap(),
                  "client.id",
                  "invalidator-admin",
                  "default.api.timeout.ms",
                  (int) TIMEOUT.toMillis()));
    }
    return admin;
  }

  @Override
  public synchronized void close() {
    if (admin != null) {
      admin.close(Duration.ofSeconds(5));
      admin = null;
    }
  }
}
