package dev.invalidator.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.CacheCodec;
import dev.invalidator.redis.PipelineSettings;
import dev.invalidator.redis.TypedCache;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The starter against a real PostgreSQL and Redis, through Spring Boot's own auto-configuration.
 * Both starters compile and run this class, each against its own Spring Boot (3.5, 4.0): it names
 * no class that moved between them ({@link BootAutoConfigurations} is each starter's own).
 */
class InvalidatorAutoConfigurationTest {
  private static RedisClient redisClient;
  private static StatefulRedisConnection<String, String> redis;

  private String prefix;
  private String table;
  private ApplicationContextRunner runner;

  @BeforeAll
  static void connect() {
    redisClient = RedisClient.create(TestServers.redisUrl());
    redis = redisClient.connect();
  }

  @AfterAll
  static void disconnect() {
    redis.close();
    redisClient.shutdown();
  }

  @BeforeEach
  void setUp() {
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    prefix = "s" + id;
    table = "outbox_s" + id;
    runner =
        new ApplicationContextRunner()
            .withConfiguration(BootAutoConfigurations.withSpringBoots())
            .withPropertyValues(
                "spring.datasource.url=" + TestServers.postgresUrl(),
                "spring.data.redis.url=" + TestServers.redisUrl(),
                "invalidator.redis.prefix=" + prefix,
                "invalidator.outbox.table=" + table);
  }

  @AfterEach
  void tearDown() {
    runner.run(
        context -> {
          JdbcTemplate jdbc = new JdbcTemplate(context.getBean(DataSource.class));
          jdbc.execute("DROP TABLE IF EXISTS account_" + prefix);
          jdbc.execute("DROP TABLE IF EXISTS public." + table + " CASCADE");
          jdbc.execute("DROP TABLE IF EXISTS public." + table + "_schema_history");
        });
    List<String> keys = redis.sync().keys(prefix + ":*");
    if (!keys.isEmpty()) {
      redis.sync().unlink(keys.toArray(String[]::new));
    }
  }

  @Test
  void providesTheWriterAndACacheOnTheApplicationsLettuceClient() {
    runner.run(
        context -> {
          assertThat(context).hasSingleBean(OutboxWriter.class).hasSingleBean(CacheClient.class);
          assertThat(context.getBean(OutboxWriter.class)).isInstanceOf(SpringOutboxWriter.class);
          assertThat(context.getBean(OutboxWriter.class).table())
              .isEqualTo(OutboxTable.of("public", table));
          CacheClient cache = context.getBean(CacheClient.class);
          assertThat(cache.keyScheme().prefix()).isEqualTo(prefix);

          TypedCache<String> names = cache.typed(CacheCodec.utf8());
          names.get("acme", "account", "1", "name", () -> TypedCache.Loaded.of(3, "Ada"));

          assertThat(
                  redis
                      .sync()
                      .hget(
                          new KeyScheme(prefix)
                              .entry(
                                  new dev.invalidator.core.AggregateRef("acme", "account", "1"),
                                  "name"),
                          "val"))
              .isEqualTo("Ada");
        });
  }

  @Test
  void outboxWriterJoinsTheSpringTransaction() {
    runner.run(
        context -> {
          DataSource dataSource = context.getBean(DataSource.class);
          OutboxSchema.migrate(dataSource, OutboxTable.of("public", table));
          JdbcTemplate jdbc = new JdbcTemplate(dataSource);
          jdbc.execute(
              "CREATE TABLE account_" + prefix + " (id text PRIMARY KEY, version bigint NOT NULL)");
          SpringOutboxWriter outbox = context.getBean(SpringOutboxWriter.class);
          TransactionTemplate tx = context.getBean(TransactionTemplate.class);
          InvalidationEvent rolledBack = event("1", 1);
          InvalidationEvent committed = event("2", 1);

          tx.executeWithoutResult(
              status -> {
                jdbc.update("INSERT INTO account_" + prefix + " VALUES ('1', 1)");
                append(outbox, rolledBack);
                status.setRollbackOnly();
              });
          tx.executeWithoutResult(
              status -> {
                jdbc.update("INSERT INTO account_" + prefix + " VALUES ('2', 1)");
                append(outbox, committed);
              });

          assertThat(jdbc.queryForList("SELECT id FROM account_" + prefix, String.class))
              .containsExactly("2");
          assertThat(jdbc.queryForList("SELECT event_id::text FROM public." + table, String.class))
              .containsExactly(committed.eventId().toString());
        });
  }

  @Test
  void outboxWriterRefusesToWriteOutsideATransaction() {
    runner.run(
        context -> {
          DataSource dataSource = context.getBean(DataSource.class);
          OutboxSchema.migrate(dataSource, OutboxTable.of("public", table));
          SpringOutboxWriter outbox = context.getBean(SpringOutboxWriter.class);

          assertThatThrownBy(() -> outbox.append(event("1", 1)))
              .isInstanceOf(IllegalStateException.class)
              .hasMessageContaining("no Spring transaction is active");
          TransactionTemplate readOnly =
              new TransactionTemplate(context.getBean(PlatformTransactionManager.class));
          readOnly.setReadOnly(true);
          assertThatThrownBy(
                  () -> readOnly.executeWithoutResult(status -> append(outbox, event("2", 1))))
              .hasMessageContaining("read-only");

          assertThat(
                  new JdbcTemplate(dataSource)
                      .queryForObject("SELECT count(*) FROM public." + table, Long.class))
              .isZero();
        });
  }

  @Test
  void cacheWithAnotherFenceTtlThanTheDaemonsStopsTheContextNamingBoth() {
    new PipelineSettings(Duration.ofMinutes(15), 16).publish(redis, new KeyScheme(prefix));

    runner
        .withPropertyValues("invalidator.cache.fence-ttl=20m")
        .run(
            context ->
                assertThat(context)
                    .getFailure()
                    .rootCause()
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("cache.fenceTtl (PT20M)")
                    .hasMessageContaining("daemon's cache.fenceTtl (PT15M"));
    runner
        .withPropertyValues("invalidator.cache.fence-ttl=15m")
        .run(context -> assertThat(context).hasNotFailed().hasSingleBean(CacheClient.class));
  }

  @Test
  void applicationBeansWinAndDisabledStartsNothing() {
    OutboxWriter own = OutboxWriter.create(OutboxTable.defaults());
    runner
        .withBean(OutboxWriter.class, () -> own)
        .run(context -> assertThat(context).getBean(OutboxWriter.class).isSameAs(own));
    runner
        .withPropertyValues("invalidator.enabled=false")
        .run(
            context ->
                assertThat(context)
                    .doesNotHaveBean(OutboxWriter.class)
                    .doesNotHaveBean(CacheClient.class));
  }

  @Test
  void healthReportsOutboxAndStreamLagWithoutGoingDown() {
    runner.run(
        context -> {
          DataSource dataSource = context.getBean(DataSource.class);
          OutboxSchema.migrate(dataSource, OutboxTable.of("public", table));
          InvalidatorHealthIndicator health = context.getBean(InvalidatorHealthIndicator.class);
          assertThat(health.health().getStatus().getCode()).isEqualTo("UP");
          assertThat(health.health().getDetails())
              .containsEntry("outboxPending", 0L)
              .containsEntry("groupExists", false)
              .containsEntry("lagging", false);

          context
              .getBean(TransactionTemplate.class)
              .executeWithoutResult(
                  status -> append(context.getBean(SpringOutboxWriter.class), event("1", 1)));

          var after = health.health();
          assertThat(after.getStatus().getCode()).isEqualTo("UP");
          assertThat(after.getDetails()).containsEntry("outboxPending", 1L);
        });
    runner
        .withPropertyValues("invalidator.health.max-outbox-age=1ms")
        .run(
            context -> {
              OutboxSchema.migrate(
                  context.getBean(DataSource.class), OutboxTable.of("public", table));
              context
                  .getBean(TransactionTemplate.class)
                  .executeWithoutResult(
                      status -> append(context.getBean(SpringOutboxWriter.class), event("2", 1)));
              await()
                  .atMost(Duration.ofSeconds(10))
                  .until(
                      () ->
                          Boolean.TRUE.equals(
                              context
                                  .getBean(InvalidatorHealthIndicator.class)
                                  .health()
                                  .getDetails()
                                  .get("lagging")));
            });
    runner
        .withPropertyValues("invalidator.health.enabled=false")
        .run(context -> assertThat(context).doesNotHaveBean(InvalidatorHealthIndicator.class));
  }

  @Test
  void bothAutoConfigurationsAreRegisteredForSpringBootToFind() {
    // What an application's @SpringBootApplication reads; the runner above names them itself.
    assertThat(
            org.springframework.boot.context.annotation.ImportCandidates.load(
                    org.springframework.boot.autoconfigure.AutoConfiguration.class,
                    getClass().getClassLoader())
                .getCandidates())
        .contains(
            InvalidatorAutoConfiguration.class.getName(),
            InvalidatorHealthAutoConfiguration.class.getName());
  }

  @Test
  void propertiesAreDescribedInTheGeneratedMetadata() throws IOException {
    String metadata;
    try (InputStream in =
        getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      assertThat(in).isNotNull();
      metadata = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertThat(metadata)
        .contains("\"invalidator.cache.fence-ttl\"")
        .contains("\"invalidator.cache.negative-ttl\"")
        .contains("\"invalidator.cache.fill-lease\"")
        .contains("\"invalidator.near-cache.channels\"")
        .contains("must equal the daemon's cache.fenceTtl");
  }

  private static InvalidationEvent event(String id, long version) {
    return InvalidationEvent.builder()
        .tenant("acme")
        .aggregate("account", id)
        .version(version)
        .build();
  }

  private static void append(SpringOutboxWriter outbox, InvalidationEvent event) {
    try {
      outbox.append(event);
    } catch (java.sql.SQLException ex) {
      throw new IllegalStateException(ex);
    }
  }
}
