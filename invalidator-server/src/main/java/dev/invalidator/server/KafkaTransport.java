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
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeConsumerGroupsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
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

  /** How long the readiness probe waits for each answer of the cluster. */
  static final Duration HEALTH_TIMEOUT = Duration.ofSeconds(3);

  private final InvalidatorConfig.Kafka cfg;
  private final Map<String, Set<String>> members = new ConcurrentHashMap<>();
  private Admin admin;
  private boolean closed;

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
    KafkaEventPublisher.Builder b =
        KafkaEventPublisher.builder(cfg.bootstrap(), cfg.topic()).clock(clock);
    cfg.properties().forEach(b::producerProperty);
    return b.build();
  }

  /** A consumer of {@code group}; one per worker thread (a Kafka consumer is single-threaded). */
  KafkaEventSource source(String group, String clientId, Clock clock) {
    String id = clientId.replaceAll("[^A-Za-z0-9._-]", "_");
    KafkaEventSource.Builder b =
        KafkaEventSource.builder(cfg.bootstrap(), cfg.topic()).group(group).clock(clock);
    cfg.properties().forEach(b::consumerProperty);
    KafkaEventSource source = b.consumerProperty("client.id", id).build();
    members.computeIfAbsent(group, g -> ConcurrentHashMap.newKeySet()).add(id);
    return source;
  }

  /**
   * The readiness of the transport, asked of the cluster now (each call waits at most {@link
   * #HEALTH_TIMEOUT}): a broker answers, every partition of the topic and of its dead-letter topic
   * has a leader (the relay's producer can publish, a dead letter can be stored), and in every
   * consumer group of this process's sources those sources are members, the group is stable and
   * every partition of the topic is assigned (so not while the group rebalances: a member that has
   * not joined, or a partition nobody owns, applies nothing).
   *
   * @return a short description when ready
   * @throws IllegalStateException naming Kafka and what is wrong when not
   */
  String health() {
    long ms = HEALTH_TIMEOUT.toMillis();
    try {
      int brokers =
          admin()
              .describeCluster(new DescribeClusterOptions().timeoutMs((int) ms))
              .nodes()
              .get(ms + 500, TimeUnit.MILLISECONDS)
              .size();
      Map<String, TopicDescription> topics =
          admin()
              .describeTopics(
                  List.of(cfg.topic(), deadLetterTopic()),
                  new DescribeTopicsOptions().timeoutMs((int) ms))
              .allTopicNames()
              .get(ms + 500, TimeUnit.MILLISECONDS);
      for (TopicDescription d : topics.values()) {
        for (TopicPartitionInfo p : d.partitions()) {
          if (p.leader() == null || p.leader().isEmpty()) {
            throw new IllegalStateException(
                "Kafka partition " + d.name() + "-" + p.partition() + " has no leader");
          }
        }
      }
      int partitions = topics.get(cfg.topic()).partitions().size();
      StringBuilder detail =
          new StringBuilder("Kafka reachable (")
              .append(brokers)
              .append(" broker(s)), topic ")
              .append(cfg.topic())
              .append(" with ")
              .append(partitions)
              .append(" partition(s) led");
      if (!members.isEmpty()) {
        Map<String, ConsumerGroupDescription> groups =
            admin()
                .describeConsumerGroups(
                    members.keySet(), new DescribeConsumerGroupsOptions().timeoutMs((int) ms))
                .all()
                .get(ms + 500, TimeUnit.MILLISECONDS);
        for (Map.Entry<String, Set<String>> e : new TreeMap<>(members).entrySet()) {
          detail.append("; ").append(assigned(groups.get(e.getKey()), e.getValue(), partitions));
        }
      }
      return detail.toString();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted asking Kafka", e);
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "Kafka at " + cfg.bootstrap() + " did not answer within " + ms + " ms", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(
          "Kafka at " + cfg.bootstrap() + " is not reachable: " + e.getCause(), e);
    }
  }

  private String assigned(ConsumerGroupDescription g, Set<String> ours, int partitions) {
    if (g == null) {
      throw new IllegalStateException("Kafka consumer group not described");
    }
    Set<String> joined = new HashSet<>();
    Set<Integer> owned = new HashSet<>();
    for (MemberDescription m : g.members()) {
      joined.add(m.clientId());
      for (TopicPartition tp : m.assignment().topicPartitions()) {
        if (tp.topic().equals(cfg.topic())) {
          owned.add(tp.partition());
        }
      }
    }
    Set<String> missing = new TreeSet<>(ours);
    missing.removeAll(joined);
    if (!missing.isEmpty()) {
      throw new IllegalStateException(
          "Kafka consumer group "
              + g.groupId()
              + " ("
              + g.groupState()
              + ") lacks this process's member(s) "
              + missing);
    }
    if (g.groupState() != GroupState.STABLE) {
      throw new IllegalStateException(
          "Kafka consumer group " + g.groupId() + " is rebalancing (" + g.groupState() + ")");
    }
    if (owned.size() < partitions) {
      throw new IllegalStateException(
          "Kafka consumer group "
              + g.groupId()
              + " ("
              + g.groupState()
              + ") has "
              + (partitions - owned.size())
              + " of "
              + partitions
              + " partition(s) of "
              + cfg.topic()
              + " unassigned");
    }
    return "group "
        + g.groupId()
        + " stable with "
        + g.members().size()
        + " member(s), "
        + partitions
        + " partition(s) assigned";
  }

  KafkaDeadLetters deadLetters() {
    return new KafkaDeadLetters(cfg.bootstrap(), cfg.topic(), cfg.clientProperties());
  }

  KafkaDeadLetterAdmin deadLetterAdmin() {
    return new KafkaDeadLetterAdmin(
        cfg.bootstrap(),
        cfg.topic(),
        KafkaDeadLetterAdmin.DEFAULT_GROUP,
        KafkaDeadLetterAdmin.DEFAULT_TIMEOUT,
        cfg.clientProperties());
  }

  /** Like {@link #deadLetterAdmin()}, each call waiting at most about {@code timeout}. */
  KafkaDeadLetterAdmin deadLetterAdmin(Duration timeout) {
    return new KafkaDeadLetterAdmin(
        cfg.bootstrap(),
        cfg.topic(),
        KafkaDeadLetterAdmin.DEFAULT_GROUP,
        timeout,
        cfg.clientProperties());
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
      TopicDescription d;
      try {
        d =
            admin()
                .describeTopics(List.of(topic))
                .allTopicNames()
                .get(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .get(topic);
      } catch (ExecutionException ex) {
        // The broker answering may not know a topic the controller just accepted (its metadata
        // follows a moment later): the same wait as for a missing leader.
        if (!(ex.getCause()
            instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)) {
          throw ex;
        }
        d = null;
      }
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
    if (closed) {
      throw new IllegalStateException("the Kafka transport is closed");
    }
    if (admin == null) {
      Map<String, Object> config = cfg.clientProperties();
      config.putIfAbsent("client.id", "invalidator-admin");
      config.put("bootstrap.servers", cfg.bootstrap());
      config.put("default.api.timeout.ms", (int) TIMEOUT.toMillis());
      admin = Admin.create(config);
    }
    return admin;
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (admin != null) {
      admin.close(Duration.ofSeconds(2));
      admin = null;
    }
  }
}
