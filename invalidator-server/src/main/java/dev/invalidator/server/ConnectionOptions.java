package dev.invalidator.server;

import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options every command shares: where the configuration and the servers are. */
public final class ConnectionOptions {
  @Option(
      names = {"-c", "--config"},
      paramLabel = "FILE",
      description = "YAML configuration file (environment variables INVALIDATOR_* override it).")
  Path config;

  @Option(
      names = {"--db-url", "--postgres-url"},
      paramLabel = "URL",
      description =
          "Outbox database: jdbc:postgresql://..., postgresql://user:pass@host/db,"
              + " jdbc:mysql://... or jdbc:mariadb://... (overrides database.url; --postgres-url"
              + " is an alias).")
  String postgresUrl;

  @Option(
      names = "--redis-url",
      paramLabel = "URL",
      description = "redis://[user:pass@]host:port or rediss://... (overrides redis.url).")
  String redisUrl;

  @Option(
      names = "--transport",
      paramLabel = "redis|kafka",
      description = "Where events travel between relay and workers (overrides transport).")
  String transport;

  @Option(
      names = "--kafka-bootstrap",
      paramLabel = "HOST:PORT",
      description = "Kafka bootstrap servers, comma-separated (overrides kafka.bootstrap).")
  String kafkaBootstrap;

  @Option(
      names = "--redis-cluster",
      description =
          "Redis is a Redis Cluster: --redis-url lists seed nodes, redis://h1:p1,redis://h2:p2"
              + " (overrides redis.cluster).")
  boolean redisCluster;

  public InvalidatorConfig load(Map<String, String> extra) {
    Map<String, String> overrides = new LinkedHashMap<>(extra);
    if (postgresUrl != null) {
      overrides.put("database.url", postgresUrl);
      overrides.put("postgres.url", "");
    }
    if (redisUrl != null) {
      overrides.put("redis.url", redisUrl);
    }
    if (transport != null) {
      overrides.put("transport", transport);
    }
    if (kafkaBootstrap != null) {
      overrides.put("kafka.bootstrap", kafkaBootstrap);
    }
    if (redisCluster) {
      overrides.put("redis.cluster", "true");
    }
    return ConfigLoader.load(config, System.getenv(), overrides);
  }

  public InvalidatorConfig load() {
    return load(Map.of());
  }
}
