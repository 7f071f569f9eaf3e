package dev.invalidator.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BrokerSmokeIT {
  @Test
  void brokerStartsAndCreatesTopics() throws Exception {
    String topic = TestKafka.newTopic(2);
    assertThat(TestKafka.endOffsets(topic, 2)).containsEntry(0, 0L).containsEntry(1, 0L);
  }
}
