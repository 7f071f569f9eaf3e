package dev.invalidator.embedded;

import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;

/**
 * A one-node KRaft Kafka (a combined controller and broker) in this JVM, from Kafka's own test kit,
 * for {@code invalidator demo --transport kafka} and {@code invalidator bench}'s scale-out scenario
 * without {@code --kafka-bootstrap}. Its logs live in temporary directories removed on {@link
 * #close()}. Not for production: one node, replication factor 1.
 *
 * <p>Kafka's test kit is an optional dependency of this module, so that the modules whose tests use
 * the embedded PostgreSQL and Redis do not get a Kafka broker on their class path; a module that
 * starts this broker declares {@code kafka-test-common-runtime} and {@code kafka-clients:test}
 * itself.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {
  private final KafkaClusterTestKit cluster;

  private EmbeddedKafkaBroker(KafkaClusterTestKit cluster) {
    this.cluster = cluster;
  }

  /** Starts the broker and waits until it is ready. */
  public static EmbeddedKafkaBroker start() throws Exception {
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
    try {
      kit.format();
      kit.startup();
      kit.waitForReadyBrokers();
    } catch (Exception e) {
      kit.close();
      throw e;
    }
    return new EmbeddedKafkaBroker(kit);
  }

  /** The bootstrap servers, {@code host:port}. */
  public String bootstrap() {
    return cluster.bootstrapServers();
  }

  @Override
  public void close() throws java.io.IOException {
    try {
      cluster.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (java.io.IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new java.io.IOException("stopping the in-JVM Kafka broker failed", e);
    }
  }
}
