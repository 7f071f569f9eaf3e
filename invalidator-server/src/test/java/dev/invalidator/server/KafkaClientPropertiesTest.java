package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code kafka.properties.*} reaches every kind of Kafka client the transport builds: the relay's
 * producer, a worker's consumer and the admin client. A value every client validates when it is
 * built ({@code security.protocol}) is set to one no client accepts, so each construction fails
 * naming the setting; with the setting left out, the same constructions succeed (the control:
 * nothing else fails them). Building a client connects to nothing, so no broker is needed.
 */
class KafkaClientPropertiesTest {
  private static InvalidatorConfig.Kafka kafka(Map<String, String> extra) throws Exception {
    Map<String, String> cli = new HashMap<>();
    cli.put("transport", "kafka");
    cli.put("kafka.bootstrap", "127.0.0.1:1");
    cli.putAll(extra);
    return ConfigLoader.load(null, Map.of(), cli).kafka();
  }

  @Test
  void aPassedThroughSettingReachesTheProducerTheConsumerAndTheAdminClient() throws Exception {
    Map<String, String> bogus = Map.of("kafka.properties.security.protocol", "NOT_A_PROTOCOL");
    try (KafkaTransport t = new KafkaTransport(kafka(bogus))) {
      assertThatThrownBy(() -> t.publisher(Clock.systemUTC()).close())
          .hasStackTraceContaining("security.protocol");
      assertThatThrownBy(() -> t.source("g", "c", Clock.systemUTC()).close())
          .hasStackTraceContaining("security.protocol");
      assertThatThrownBy(t::health).hasStackTraceContaining("security.protocol");
    }
  }

  @Test
  void withoutItTheSameClientsAreBuilt() throws Exception {
    try (KafkaTransport t = new KafkaTransport(kafka(Map.of()))) {
      assertThatCode(() -> t.publisher(Clock.systemUTC()).close()).doesNotThrowAnyException();
      assertThatCode(() -> t.source("g", "c", Clock.systemUTC()).close())
          .doesNotThrowAnyException();
    }
  }
}
