package dev.invalidator.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir Path dir;

  private InvalidatorConfig load(String yaml, Map<String, String> env, Map<String, String> cli)
      throws Exception {
    Path f = null;
    if (yaml != null) {
      f = dir.resolve("invalidator.yaml");
      Files.writeString(f, yaml);
    }
    return ConfigLoader.load(f, env, cli);
  }

  @Test
  void defaultsAreSane() throws Exception {
    InvalidatorConfig c = load(null, Map.of(), Map.of());
    assertThat(c.postgres().table()).isEqualTo("invalidation_outbox");
    assertThat(c.redis().prefix()).isEqualTo("inv");
    assertThat(c.relay().retention()).isEqualTo(Duration.ofHours(24));
    assertThat(c.cache().fenceTtl())
        .isGreaterThan(c.cache().entryTtl().plus(c.cache().fillDeadline()));
  }

  @Test
  void transportIsRedisByDefaultAndKafkaTakesItsTopicFromTheStreamName() throws Exception {
    InvalidatorConfig redis = load(null, Map.of(), Map.of());
    assertThat(redis.kafka().enabled()).isFalse();
    InvalidatorConfig kafka =
        load(
            "transport: kafka\nredis:\n  prefix: shop\n",
            Map.of("INVALIDATOR_KAFKA_BOOTSTRAP", "k1:9092,k2:9092"),
            Map.of());
    assertThat(kafka.kafka().enabled()).isTrue();
    assertThat(kafka.kafka().bootstrap()).isEqualTo("k1:9092,k2:9092");
    assertThat(kafka.kafka().topic()).isEqualTo("shop.stream");
    assertThat(kafka.kafka().groupId()).isEqualTo(kafka.worker().group());
  }

  @Test
  void kafkaWithoutBootstrapOrWithBadValuesIsRefusedNamingTheSetting() {
    assertThatThrownBy(() -> load("transport: kafka\n", Map.of(), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("kafka.bootstrap")
        .hasMessageContaining("INVALIDATOR_KAFKA_BOOTSTRAP")
        .hasMessageContaining("required when transport is kafka");
    assertThatThrownBy(
            () -> load(null, Map.of(), Map.of("transport", "kafka", "kafka.bootstrap", "k1")))
        .hasMessageContaining("kafka.bootstrap")
        .hasMessageContaining("'k1' is not host:port");
    assertThatThrownBy(() -> load(null, Map.of("INVALIDATOR_TRANSPORT", "rabbit"), Map.of()))
        .hasMessageContaining("transport (env INVALIDATOR_TRANSPORT)")
        .hasMessageContaining("must be redis or kafka");
    assertThatThrownBy(() -> load("kafka:\n  topic: a/b\n", Map.of(), Map.of()))
        .hasMessageContaining("kafka.topic");
    assertThatThrownBy(
            () ->
                load(
                    "transport: kafka\nkafka:\n  bootstrap: k1:9092\nworker:\n  breakerOpenWait: 5m\n",
                    Map.of(),
                    Map.of()))
        .hasMessageContaining("worker.breakerOpenWait")
        .hasMessageContaining("max.poll.interval.ms");
  }

  @Test
  void environmentOverridesFileAndCommandLineOverridesEnvironment() throws Exception {
    String yaml =
        "relay:\n  batchSize: 100\n  pollInterval: 250ms\nredis:\n  url: redis://file:6379\n";
    InvalidatorConfig fileOnly = load(yaml, Map.of(), Map.of());
    assertThat(fileOnly.relay().batchSize()).isEqualTo(100);
    assertThat(fileOnly.relay().pollInterval()).isEqualTo(Duration.ofMillis(250));

    Map<String, String> env =
        Map.of("INVALIDATOR_RELAY_BATCH_SIZE", "200", "INVALIDATOR_REDIS_URL", "redis://env:6379");
    InvalidatorConfig withEnv = load(yaml, env, Map.of());
    assertThat(withEnv.relay().batchSize()).isEqualTo(200);
    assertThat(withEnv.redis().url()).isEqualTo("redis://env:6379");

    Map<String, String> cli = new HashMap<>();
    cli.put("redis.url", "redis://cli:6379");
    cli.put("postgres.url", null);
    assertThat(load(yaml, env, cli).redis().url()).isEqualTo("redis://cli:6379");
  }

  @Test
  void bareNumbersAreSecondsInFilesAndVariables() throws Exception {
    InvalidatorConfig fromFile = load("relay:\n  pollInterval: 2\n", Map.of(), Map.of());
    assertThat(fromFile.relay().pollInterval()).isEqualTo(Duration.ofSeconds(2));

    InvalidatorConfig fromEnv =
        load(null, Map.of("INVALIDATOR_RELAY_POLL_INTERVAL", "3"), Map.of());
    assertThat(fromEnv.relay().pollInterval()).isEqualTo(Duration.ofSeconds(3));
  }

  @Test
  void redisClusterTakesACommaSeparatedSeedListAndRefusesANonRedisElementWithoutItsPassword()
      throws Exception {
    InvalidatorConfig c =
        load(
            null,
            Map.of(
                "INVALIDATOR_REDIS_CLUSTER",
                "true",
                "INVALIDATOR_REDIS_URL",
                "redis://10.0.0.1:6379,redis://10.0.0.2:6379"),
            Map.of());
    assertThat(c.redis().cluster()).isTrue();
    assertThat(c.redis().url()).isEqualTo("redis://10.0.0.1:6379,redis://10.0.0.2:6379");

    assertThatThrownBy(
            () ->
                load(
                    null,
                    Map.of(),
                    Map.of(
                        "redis.cluster",
                        "true",
                        "redis.url",
                        "redis://10.0.0.1:6379,http://app:s3cret@10.0.0.2:6379")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("redis.url")
        .hasMessageNotContaining("s3cret");
  }

  @Test
  void envNamesFollowTheSettingNames() {
    assertThat(ConfigLoader.envName("relay.batchSize")).isEqualTo("INVALIDATOR_RELAY_BATCH_SIZE");
    assertThat(ConfigLoader.envName("worker.claimMinIdle"))
        .isEqualTo("INVALIDATOR_WORKER_CLAIM_MIN_IDLE");
    assertThat(ConfigLoader.envName("postgres.url")).isEqualTo("INVALIDATOR_POSTGRES_URL");
  }

  @Test
  void databaseUrlSchemePicksTheDialectAndPostgresUrlIsItsAlias() throws Exception {
    InvalidatorConfig mariadb =
        load(null, Map.of("INVALIDATOR_DATABASE_URL", "jdbc:mariadb://db:3306/app"), Map.of());
    assertThat(mariadb.postgres().dialect()).isSameAs(dev.invalidator.outbox.OutboxDialect.MYSQL);
    InvalidatorConfig mysql = load("database:\n  url: jdbc:mysql://db/app\n", Map.of(), Map.of());
    assertThat(mysql.postgres().dialect()).isSameAs(dev.invalidator.outbox.OutboxDialect.MYSQL);
    InvalidatorConfig alias = load("postgres:\n  url: postgresql://u@db/app\n", Map.of(), Map.of());
    assertThat(alias.postgres().jdbcUrl()).isEqualTo("jdbc:postgresql://db/app?user=u");
    assertThat(alias.postgres().dialect())
        .isSameAs(dev.invalidator.outbox.OutboxDialect.POSTGRESQL);

    assertThatThrownBy(
            () ->
                load(
                    "database:\n  url: jdbc:mysql://a/x\npostgres:\n  url: jdbc:postgresql://b/y\n",
                    Map.of(),
                    Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("database.url")
        .hasMessageContaining("postgres.url");
    assertThatThrownBy(
            () -> load("database:\n  url: jdbc:oracle:thin:@db:1521/x\n", Map.of(), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("database.url");
    assertThatThrownBy(
            () ->
                load(
                    "database:\n  url: jdbc:mariadb://db/app\nrelay:\n  mode: cdc\n",
                    Map.of(),
                    Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("relay.mode")
        .hasMessageContaining("polling");
  }

  @Test
  void unknownSettingIsRefusedNamingIt() {
    assertThatThrownBy(() -> load("relay:\n  batchSzie: 5\n", Map.of(), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("relay.batchSzie")
        .hasMessageContaining("unknown setting");
  }

  @Test
  void wrongValuesAreRefusedNamingTheSettingAndItsVariable() throws Exception {
    assertThatThrownBy(() -> load(null, Map.of("INVALIDATOR_RELAY_BATCH_SIZE", "lots"), Map.of()))
        .hasMessage(
            "configuration: relay.batchSize (env INVALIDATOR_RELAY_BATCH_SIZE): 'lots' is not a whole number");
    assertThatThrownBy(() -> load("relay:\n  pollInterval: soon\n", Map.of(), Map.of()))
        .hasMessageContaining("relay.pollInterval")
        .hasMessageContaining("is not a duration");
    assertThatThrownBy(() -> load("postgres:\n  table: \"x; drop table y\"\n", Map.of(), Map.of()))
        .hasMessageContaining("postgres.table");
    assertThatThrownBy(() -> load("redis:\n  url: http://x\n", Map.of(), Map.of()))
        .hasMessageContaining("redis.url")
        .hasMessageContaining("redis://");
    assertThatThrownBy(() -> load("cache:\n  entryTtl: 20m\n  fenceTtl: 20m\n", Map.of(), Map.of()))
        .hasMessageContaining("cache.fenceTtl")
        .hasMessageContaining("must be at least cache.entryTtl + cache.fillDeadline");
    // The rule is the library's, once: a fence exactly as long as an entry plus the longest
    // fill is accepted by the configuration and by CacheClient alike.
    assertThat(
            load(
                    "cache:\n  entryTtl: 20m\n  fillDeadline: 5s\n  fenceTtl: 1205s\n",
                    Map.of(),
                    Map.of())
                .cache()
                .fenceTtl())
        .isEqualTo(java.time.Duration.ofSeconds(1205));
  }

  @Test
  void libpqUrlsBecomeJdbcUrlsAndPasswordsAreMasked() throws Exception {
    InvalidatorConfig c =
        load(
            null,
            Map.of(
                "INVALIDATOR_POSTGRES_URL",
                "postgresql://app:s3cret@db.local:5433/shop?sslmode=require"),
            Map.of());
    assertThat(c.postgres().jdbcUrl())
        .isEqualTo("jdbc:postgresql://db.local:5433/shop?sslmode=require&user=app&password=s3cret");
    assertThat(c.postgres().maskedUrl()).doesNotContain("s3cret");
    // Nor does any printed form of the configuration (a log line, an exception message).
    assertThat(c.toString()).doesNotContain("s3cret");
    InvalidatorConfig withRedisAndPassword =
        load(
            null,
            Map.of(
                "INVALIDATOR_POSTGRES_URL", "jdbc:postgresql://db.local/shop",
                "INVALIDATOR_POSTGRES_PASSWORD", "pgs3cret",
                "INVALIDATOR_REDIS_URL", "redis://default:rs3cret@cache:6379"),
            Map.of());
    assertThat(withRedisAndPassword.toString())
        .doesNotContain("pgs3cret")
        .doesNotContain("rs3cret")
        .contains("cache:6379");
    assertThat(InvalidatorConfig.mask("jdbc:postgresql://h/db?user=a&password=s3cret&x=1"))
        .isEqualTo("jdbc:postgresql://h/db?user=a&password=****&x=1");
    assertThat(InvalidatorConfig.mask("rediss://default:s3cret@cache:6380/0"))
        .isEqualTo("rediss://default:****@cache:6380/0");
    assertThat(InvalidatorConfig.mask("redis://s3cret@cache:6379"))
        .isEqualTo("redis://****@cache:6379");
  }

  @Test
  void observabilityTenantsAreValidatedAndOtherIsReserved() throws Exception {
    InvalidatorConfig c =
        load(null, Map.of("INVALIDATOR_OBSERVABILITY_TENANTS", " acme, globex ,acme,"), Map.of());
    assertThat(c.observability().tenants()).containsExactly("acme", "globex");
    assertThat(load(null, Map.of(), Map.of()).observability().tenants()).isEmpty();
    assertThatThrownBy(
            () -> load(null, Map.of("INVALIDATOR_OBSERVABILITY_TENANTS", "acme,other"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("observability.tenants")
        .hasMessageContaining("reserved");
    assertThatThrownBy(
            () -> load(null, Map.of("INVALIDATOR_OBSERVABILITY_TENANTS", "ac{me}"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("observability.tenants");
  }

  @Test
  void observerSettingsParseQueriesAndGracesAndNameTheSettingOnErrors() throws Exception {
    InvalidatorConfig c =
        load(
            null,
            Map.of(
                "INVALIDATOR_OBSERVER_ENABLED", "true",
                "INVALIDATOR_OBSERVER_GRACE", "10s, 1s,60s",
                "INVALIDATOR_OBSERVER_QUERIES",
                    "account=SELECT version FROM account WHERE tenant_id = ? AND id = ?;"
                        + " order = SELECT v FROM orders WHERE t = ? AND id = ?"),
            Map.of());
    assertThat(c.observer().enabled()).isTrue();
    assertThat(c.observer().grace())
        .containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(10), Duration.ofSeconds(60));
    assertThat(c.observer().queries())
        .containsEntry("account", "SELECT version FROM account WHERE tenant_id = ? AND id = ?")
        .containsEntry("order", "SELECT v FROM orders WHERE t = ? AND id = ?");
    assertThat(load(null, Map.of(), Map.of()).observer().enabled()).isFalse();
    assertThatThrownBy(() -> load(null, Map.of("INVALIDATOR_OBSERVER_ENABLED", "true"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("observer.queries");
    assertThatThrownBy(
            () ->
                load(
                    null,
                    Map.of(
                        "INVALIDATOR_OBSERVER_QUERIES",
                        "account=SELECT version FROM a WHERE id = ?"),
                    Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("observer.queries")
        .hasMessageContaining("exactly two ?");
    assertThatThrownBy(
            () -> load(null, Map.of("INVALIDATOR_OBSERVER_SAMPLE_RATE", "1.5"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("observer.sampleRate");
    assertThatThrownBy(() -> load(null, Map.of("INVALIDATOR_OBSERVER_GRACE", "1s,0s"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("observer.grace");
    assertThatThrownBy(
            () ->
                load(
                    null,
                    Map.of(
                        "INVALIDATOR_OBSERVER_GRACE", "10m", "INVALIDATOR_OBSERVER_WINDOW", "5m"),
                    Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("observer.window");
  }

  @Test
  void adminSettingsAreValidatedAndTheTokenIsNeverPrinted() throws Exception {
    InvalidatorConfig c = load(null, Map.of("INVALIDATOR_ADMIN_TOKEN", "t0ps3cret"), Map.of());
    assertThat(c.admin().port()).isEqualTo(9464);
    assertThat(c.admin().bind()).isEqualTo("127.0.0.1");
    assertThat(c.admin().tokenConfigured()).isTrue();
    assertThat(c.toString()).doesNotContain("t0ps3cret");
    assertThatThrownBy(() -> load(null, Map.of("INVALIDATOR_ADMIN_PORT", "70000"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("admin.port");
    assertThatThrownBy(() -> load(null, Map.of("INVALIDATOR_ADMIN_BIND", "a b"), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("admin.bind");
  }

  @Test
  void kafkaPropertiesPassThroughFromYamlAndEnvironmentWithSecretsHidden() throws Exception {
    InvalidatorConfig c =
        load(
            "transport: kafka\nkafka:\n  bootstrap: k1:9093\n  properties:\n"
                + "    security.protocol: SASL_SSL\n"
                + "    ssl.truststore.location: /etc/kafka/truststore.jks\n"
                + "    ssl.truststore.password: trust-secret-1\n",
            Map.of(
                "INVALIDATOR_KAFKA_PROPERTIES_SASL_MECHANISM",
                "SCRAM-SHA-512",
                "INVALIDATOR_KAFKA_PROPERTIES_SASL_JAAS_CONFIG",
                "org.apache.kafka.common.security.scram.ScramLoginModule required"
                    + " username=\"inv\" password=\"jaas-secret-2\";"),
            Map.of());
    assertThat(c.kafka().clientProperties())
        .containsEntry("security.protocol", "SASL_SSL")
        .containsEntry("ssl.truststore.location", "/etc/kafka/truststore.jks")
        .containsEntry("ssl.truststore.password", "trust-secret-1")
        .containsEntry("sasl.mechanism", "SCRAM-SHA-512")
        .containsKey("sasl.jaas.config");
    assertThat(c.kafka().redactedProperties())
        .containsEntry("ssl.truststore.password", "[hidden]")
        .containsEntry("sasl.jaas.config", "[hidden]")
        .containsEntry("sasl.mechanism", "SCRAM-SHA-512");
    assertThat(c.toString())
        .contains("security.protocol=SASL_SSL")
        .doesNotContain("trust-secret-1")
        .doesNotContain("jaas-secret-2");
  }

  @Test
  void kafkaPropertiesTheDaemonSetsOrBadlyNamedAreRefusedNamingTheSettingNotTheValue() {
    assertThatThrownBy(
            () ->
                load("kafka:\n  properties:\n    bootstrap.servers: k9:9092\n", Map.of(), Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("kafka.properties.bootstrap.servers")
        .hasMessageContaining("set kafka.bootstrap instead")
        .hasMessageNotContaining("k9:9092");
    assertThatThrownBy(
            () ->
                load(
                    null,
                    Map.of("INVALIDATOR_KAFKA_PROPERTIES_ENABLE_AUTO_COMMIT", "true"),
                    Map.of()))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("kafka.properties.enable.auto.commit")
        .hasMessageContaining("INVALIDATOR_KAFKA_PROPERTIES_ENABLE_AUTO_COMMIT");
    assertThatThrownBy(
            () -> load(null, Map.of(), Map.of("kafka.properties.Sasl Password", "hunter2")))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("is not a Kafka client setting name")
        .hasMessageNotContaining("hunter2");
  }
}
