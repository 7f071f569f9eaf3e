package dev.invalidator.server;

import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One in-JVM KRaft broker (Kafka's own test kit, a combined controller and broker) shared by the
 * test classes of the JVM that register {@link Broker}; stopped by JUnit when the test plan ends.
 * Topic auto-creation is off, so a test sees the daemon create its topics. Each test names its own
 * topic and group.
 */
final class TestKafkaBroker {
  /** Registers the broker's shutdown at the end of the test plan. */
  static final class Broker implements BeforeAllCallback {
    @Override
    public void beforeAll(ExtensionContext context) {
      context
          .getRoot()
          .getStore(ExtensionContext.Namespace.GLOBAL)
          .getOrComputeIfAbsent(
              TestKafkaBroker.class.getName(),
              k -> (AutoCloseable) TestKafkaBroker::stop,
              AutoCloseable.class);
    }
  }

  private static KafkaClusterTestKit cluster;

  private TestKafkaBroker() {}

  static synchronized String bootstrap() {
    if (cluster == null) {
      cluster = newCluster(java.util.Map.of());
    }
    return cluster.bootstrapServers();
  }

  /**
   * A broker of its own, started, for a test class that stops and restarts it ({@code
   * brokers().get(0).shutdown()} and {@code startup()}: it comes back on the same port); the caller
   * closes it. {@code config} adds broker settings.
   */
  static KafkaClusterTestKit newCluster(java.util.Map<String, String> config) {
    try {
      KafkaClusterTestKit.Builder builder =
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
              .setConfigProp("transaction.state.log.min.isr", "1");
      config.forEach(builder::setConfigProp);
      KafkaClusterTestKit kit = builder.build();
      kit.format();
      kit.startup();
      kit.waitForReadyBrokers();
      return kit;
    } catch (Exception ex) {
      throw new IllegalStateException("could not start the in-JVM Kafka broker", ex);
    }
  }

  private static synchronized void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
  }

  /** A topic name no other test uses. */
  static String newTopic() {
    return "inv-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  }
}
