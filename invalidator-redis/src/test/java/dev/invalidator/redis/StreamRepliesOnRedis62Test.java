package dev.invalidator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.embedded.EmbeddedRedisServer;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link StreamRepliesContract} on an embedded Redis 6.2 started for this class, whatever server
 * the other tests use, so the 6.2 replies are covered also when CI points the tests at Redis 7.
 */
class StreamRepliesOnRedis62Test extends StreamRepliesContract {
  private EmbeddedRedisServer server;
  private RedisClient client;

  @BeforeAll
  void start() {
    server = EmbeddedRedisServer.start();
    client = RedisClient.create(server.url());
  }

  @AfterAll
  void stop() {
    try {
      client.shutdown();
    } finally {
      server.close();
    }
  }

  @Override
  RedisClient client() {
    return client;
  }

  @Test
  void embeddedServerIsRedis62WhoseClaimRepliesOmitDeletedIds() {
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      RedisServerInfo info = RedisServerInfo.detect(c);

      assertThat(info.version()).hasValueSatisfying(v -> assertThat(v).startsWith("6.2."));
      assertThat(info.reportsDeletedOnClaim()).isFalse();
    }
  }
}
