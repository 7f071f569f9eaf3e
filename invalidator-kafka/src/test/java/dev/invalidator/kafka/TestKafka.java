package dev.invalidator.kafka;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidationEvent;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * One in-JVM KRaft broker (a combined controller and broker node of Kafka's own test kit) shared by
 * every test class of the module's test JVM that registers {@link Broker}, started on first use and
 * stopped when the test plan ends (by JUnit, not by a shutdown hook: the broker takes seconds to
 * stop, and a slow exit makes Failsafe count the fork as crashed). Topic auto-creation is off:
 * every test creates its own topics, named at random, so nothing leaks between tests.
 */
final class TestKafka {
  /** Registers the broker's shutdown at the end of the test plan. */
  static final class Broker implements BeforeAllCallback {
    @Override
    public void beforeAll(ExtensionContext context) {
      context
          .getRoot()
          .getStore(ExtensionContext.Namespace.GLOBAL)
          .getOrComputeIfAbsent(
              TestKafka.class.getName(), k -> (AutoCloseable) TestKafka::stop, AutoCloseable.class);
    }
  }

  private static final SecureRandom RANDOM = new SecureRandom();
  private static KafkaClusterTestKit cluster;
  private static Admin admin;

  private TestKafka() {}

  static synchronized String bootstrap() {
    if (cluster == null) {
      start();
    }
    return cluster.bootstrapServers();
  }

  static synchronized Admin admin() {
    bootstrap();
    return admin;
  }

  private static synchronized void stop() throws Exception {
    if (cluster != null) {
      long start = System.nanoTime();
      admin.close();
      cluster.close();
      cluster = null;
      LoggerFactory.getLogger(TestKafka.class)
          .info("broker stopped in {} ms", (System.nanoTime() - start) / 1_000_000);
    }
  }

  private static void start() {
    try {
      KafkaClusterTestKit kit =
          new KafkaClusterTestKit.Builder(
                  new TestKitNodes.Builder()
                      .setCombined(true)
                      .setNumBrokerNodes(1)
                      .setNumControllerNodes(1)
                      .build())
              .setConfigProp("auto.create.topics.enable", "false")
              .setConfigProp("group.initial.rebalance.delay.ms", "0")
              .setConfigProp("offsets.topic.replication.factor", "1")
              .setConfigProp("offsets.topic.num.partitions", "1")
              .setConfigProp("transaction.state.log.replication.factor", "1")
              .setConfigProp("transaction.state.log.min.isr", "1")
              .build();
      kit.format();
      kit.startup();
      kit.waitForReadyBrokers();
      cluster = kit;
      admin = Admin.create(Map.of("bootstrap.servers", kit.bootstrapServers()));
    } catch (Exception ex) {
      throw new IllegalStateException("could not start the in-JVM Kafka broker", ex);
    }
  }

  /** Creates a topic and its dead-letter topic, both new, and returns the topic's name. */
  static String newTopic(int partitions) throws Exception {
    byte[] b = new byte[5];
    RANDOM.nextBytes(b);
    String topic = "inv-" + HexFormat.of().formatHex(b);
    admin()
        .createTopics(
            List.of(
                new NewTopic(topic, partitions, (short) 1),
                new NewTopic(topic + KafkaDeadLetters.SUFFIX, 1, (short) 1)))
        .all()
        .get();
    awaitLeaders(topic, partitions);
    awaitLeaders(topic + KafkaDeadLetters.SUFFIX, 1);
    return topic;
  }

  /**
   * Waits until every partition of a just-created topic has a leader: {@code createTopics} returns
   * once the controller accepted the topic, and a producer that sends before the leaders are
   * elected waits for them inside its acknowledgement time (seen on a cold CI machine as a publish
   * timing out on the first test). Until the broker's metadata has the topic, describing it fails
   * with "unknown topic or partition"; that is waited out too.
   */
  private static void awaitLeaders(String topic, int partitions) throws Exception {
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    while (true) {
      org.apache.kafka.clients.admin.TopicDescription description;
      try {
        description = admin().describeTopics(List.of(topic)).allTopicNames().get().get(topic);
      } catch (java.util.concurrent.ExecutionException ex) {
        // The broker answering may not know the topic yet (its metadata arrives a little after
        // the controller accepted it): the same wait as for a missing leader.
        if (!(ex.getCause()
            instanceof org.apache.kafka.common.errors.UnknownTopicOrPartitionException)) {
          throw ex;
        }
        description = null;
      }
      if (description != null
          && description.partitions().size() == partitions
          && description.partitions().stream()
              .allMatch(p -> p.leader() != null && !p.leader().isEmpty())
          && leadersServe(topic, partitions)) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("topic " + topic + " has no leader for every partition");
      }
      Thread.sleep(20);
    }
  }

  /**
   * Whether every partition's leader answers a request meant only for the leader (the latest
   * offset). Metadata can name a leader before its broker serves the partition: an idempotent
   * producer whose first batch met that moment was answered NOT_LEADER_OR_FOLLOWER for a batch the
   * broker appended anyway, then OUT_OF_ORDER_SEQUENCE_NUMBER for every retry until its 30 s
   * delivery timeout (KafkaWorkerIT, CI mode 1, with the machine under load).
   */
  private static boolean leadersServe(String topic, int partitions) throws InterruptedException {
    Map<TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest =
        new java.util.HashMap<>();
    for (int p = 0; p < partitions; p++) {
      latest.put(new TopicPartition(topic, p), org.apache.kafka.clients.admin.OffsetSpec.latest());
    }
    try {
      admin().listOffsets(latest).all().get(5, java.util.concurrent.TimeUnit.SECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException ex) {
      return false;
    }
  }

  /** The group's committed offsets of {@code topic}, by partition, as the broker has them. */
  static Map<Integer, Long> committed(String group, String topic) throws Exception {
    Map<TopicPartition, OffsetAndMetadata> offsets =
        admin().listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    Map<Integer, Long> out = new TreeMap<>();
    offsets.forEach(
        (tp, om) -> {
          if (tp.topic().equals(topic) && om != null) {
            out.put(tp.partition(), om.offset());
          }
        });
    return out;
  }

  /** The committed metadata of one partition, or null. */
  static String committedMetadata(String group, String topic, int partition) throws Exception {
    OffsetAndMetadata om =
        admin()
            .listConsumerGroupOffsets(group)
            .partitionsToOffsetAndMetadata()
            .get()
            .get(new TopicPartition(topic, partition));
    return om == null ? null : om.metadata();
  }

  /** The end offset of every partition of {@code topic}. */
  static Map<Integer, Long> endOffsets(String topic, int partitions) throws Exception {
    Map<TopicPartition, OffsetSpec> request =
        java.util.stream.IntStream.range(0, partitions)
            .boxed()
            .collect(Collectors.toMap(p -> new TopicPartition(topic, p), p -> OffsetSpec.latest()));
    Map<Integer, Long> out = new TreeMap<>();
    admin()
        .listOffsets(request)
        .all()
        .get()
        .forEach((tp, info) -> out.put(tp.partition(), info.offset()));
    return out;
  }

  static String newGroup() {
    byte[] b = new byte[4];
    RANDOM.nextBytes(b);
    return "g-" + HexFormat.of().formatHex(b);
  }

  static InvalidationEvent event(String id, long version) {
    return InvalidationEvent.builder()
        .aggregate(new AggregateRef("acme", "product", id))
        .version(version)
        .createdAt(Instant.now().truncatedTo(ChronoUnit.MILLIS))
        .build();
  }

  static Set<Integer> partitions(int n) {
    return java.util.stream.IntStream.range(0, n).boxed().collect(Collectors.toSet());
  }
}
