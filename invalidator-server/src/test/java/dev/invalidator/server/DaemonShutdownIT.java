package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.WorkerListener;
import dev.invalidator.embedded.EmbeddedPostgresServer;
import dev.invalidator.embedded.EmbeddedRedisServer;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import kafka.server.BrokerServer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.junit.jupiter.api.Test;

/**
 * A daemon whose servers went away still stops within {@link Daemon#CLOSE_BOUND}: on a PostgreSQL,
 * a Redis and a Kafka broker of the test's own, stopped under the running daemon. Before the bound,
 * close waited 20 s for loops blocked on the dead servers (a pool waiting 10 s for a connection, an
 * XREADGROUP waiting 60 s for its reply), then 10 s more, and a Kafka consumer's close waited 30 s
 * for a coordinator that was gone.
 */
class DaemonShutdownIT {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  /** Before the bound: 21 s here. */
  @Test
  void closeReturnsWithinTheBoundAfterPostgresAndRedisWentAway() throws Exception {
    EmbeddedPostgresServer pg = EmbeddedPostgresServer.start();
    EmbeddedRedisServer redis = EmbeddedRedisServer.start();
    try {
      Daemon daemon =
          Daemon.create(config(pg, redis, Map.of()), Daemon.Role.ALL, WorkerListener.NONE, true);
      URI admin = daemon.start(true);
      awaitReady(admin, 200);
      redis.close();
      pg.close();
      // The relay noticed: its loop fails and retries against the vanished servers.
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  daemon
                          .meterRegistry()
                          .find("invalidator.loop.errors")
                          .tag("loop", "relay")
                          .counter()
                      != null);
      assertThat(timeToClose(daemon)).isLessThan(Daemon.CLOSE_BOUND.plusMillis(500));
    } finally {
      pg.close();
    }
  }

  @Test
  void closeReturnsWithinTheBoundAfterTheKafkaBrokerWentAway() throws Exception {
    EmbeddedPostgresServer pg = EmbeddedPostgresServer.start();
    EmbeddedRedisServer redis = EmbeddedRedisServer.start();
    KafkaClusterTestKit kafka = TestKafkaBroker.newCluster(Map.of());
    try {
      Daemon daemon =
          Daemon.create(
              config(
                  pg,
                  redis,
                  Map.of(
                      "transport",
                      "kafka",
                      "kafka.bootstrap",
                      kafka.bootstrapServers(),
                      "kafka.topic",
                      TestKafkaBroker.newTopic(),
                      "worker.threads",
                      "2")),
              Daemon.Role.ALL,
              WorkerListener.NONE,
              true);
      URI admin = daemon.start(true);
      awaitReady(admin, 200);
      BrokerServer broker = kafka.brokers().values().iterator().next();
      broker.shutdown();
      broker.awaitShutdown();
      awaitReady(admin, 503);
      assertThat(timeToClose(daemon)).isLessThan(Daemon.CLOSE_BOUND.plusMillis(500));
    } finally {
      kafka.close();
      redis.close();
      pg.close();
    }
  }

  private static InvalidatorConfig config(
      EmbeddedPostgresServer pg, EmbeddedRedisServer redis, Map<String, String> extra) {
    Map<String, String> o = new HashMap<>();
    o.put("postgres.url", pg.jdbcUrl());
    o.put("redis.url", redis.url());
    o.put("admin.port", "0");
    o.put("worker.block", "100ms");
    o.put("relay.pollInterval", "200ms");
    o.put("observability.sampleInterval", "200ms");
    o.putAll(extra);
    return ConfigLoader.load(null, Map.of(), o);
  }

  private static Duration timeToClose(Daemon daemon) {
    long t0 = System.nanoTime();
    daemon.close();
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    System.out.println("daemon closed in " + took);
    return took;
  }

  private static void awaitReady(URI admin, int code) {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () ->
                assertThat(
                        HTTP.send(
                                HttpRequest.newBuilder(admin.resolve("health/ready"))
                                    .timeout(Duration.ofSeconds(5))
                                    .build(),
                                HttpResponse.BodyHandlers.ofString())
                            .statusCode())
                    .isEqualTo(code));
  }
}
