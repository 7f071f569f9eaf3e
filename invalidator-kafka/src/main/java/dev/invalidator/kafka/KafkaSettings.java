package dev.invalidator.kafka;

import java.util.regex.Pattern;

/** Checks shared by the builders; messages name the setting. */
final class KafkaSettings {
  /**
   * Kafka's characters for topic names; 240 leaves room for the {@code -dlt} suffix (limit 249).
   */
  private static final Pattern TOPIC = Pattern.compile("[A-Za-z0-9._-]{1,240}");

  private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9._-]{1,200}");

  private KafkaSettings() {}

  static void requireBootstrap(String bootstrap) {
    if (bootstrap == null || bootstrap.isBlank() || !bootstrap.contains(":")) {
      throw new IllegalArgumentException(
          "kafka.bootstrap must be host:port[,host:port...], got " + bootstrap);
    }
  }

  static void requireTopic(String topic) {
    if (topic == null || !TOPIC.matcher(topic).matches()) {
      throw new IllegalArgumentException(
          "kafka.topic must be 1-240 characters of letters, digits, '.', '_' or '-', got " + topic);
    }
  }

  static void requireGroup(String group) {
    if (group == null || !GROUP.matcher(group).matches()) {
      throw new IllegalArgumentException(
          "kafka.group must be 1-200 characters of letters, digits, '.', '_' or '-', got " + group);
    }
  }
}
