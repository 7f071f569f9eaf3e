package dev.invalidator.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.CacheCodec;
import dev.invalidator.redis.TypedCache;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * {@code invalidator.embedded.enabled}: the daemon in the application's process, against a real
 * PostgreSQL and Redis. Both starters compile and run this class (Spring Boot 3.5 and 4.0).
 */
class EmbeddedDaemonTest {
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
    prefix = "e" + id;
    table = "outbox_e" + id;
    runner =
        new ApplicationContextRunner()
            .withConfiguration(BootAutoConfigurations.withSpringBoots())
            .withConfiguration(
                org.springframework.boot.autoconfigure.AutoConfigurations.of(
                    InvalidatorEmbeddedAutoConfiguration.class))
            .withPropertyValues(
                "spring.datasource.url=" + TestServers.postgresUrl(),
                "spring.data.redis.url=" + TestServers.redisUrl(),
                "invalidator.redis.prefix=" + prefix,
                "invalidator.outbox.table=" + table,
                "invalidator.embedded.settings.relay.pollInterval=50ms",
                "invalidator.embedded.settings.[worker.threads]=1",
                "invalidator.embedded.settings.[postgres.poolSize]=4");
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
  void offByDefault() {
    runner.run(context -> assertThat(context).doesNotHaveBean(EmbeddedDaemon.class));
  }

  @Test
  void registeredInAutoConfigurationImports() {
    assertThat(
            org.springframework.boot.context.annotation.ImportCandidates.load(
                    org.springframework.boot.autoconfigure.AutoConfiguration.class,
                    getClass().getClassLoader())
                .getCandidates())
        .contains(InvalidatorEmbeddedAutoConfiguration.class.getName());
  }

  @Test
  void relaysAndAppliesTheApplicationsEventsAndStopsWithTheContext() {
    EmbeddedDaemon[] started = new EmbeddedDaemon[1];
    runner
        .withPropertyValues("invalidator.embedded.enabled=true")
        .run(
            context -> {
              assertThat(context).hasNotFailed().hasSingleBean(EmbeddedDaemon.class);
              EmbeddedDaemon daemon = context.getBean(EmbeddedDaemon.class);
              started[0] = daemon;
              assertThat(daemon.isRunning()).isTrue();
              assertThat(daemon.adminUri()).as("no admin server unless admin-port").isNull();
              // The daemon's table and prefix are the writer's and the cache's.
              assertThat(daemon.daemon().outboxTable())
                  .isEqualTo(context.getBean(OutboxWriter.class).table());
              assertThat(loopThreads()).contains("relay", "worker-0");

              DataSource dataSource = context.getBean(DataSource.class);
              JdbcTemplate jdbc = new JdbcTemplate(dataSource);
              jdbc.execute(
                  "CREATE TABLE account_"
                      + prefix
                      + " (id text PRIMARY KEY, name text NOT NULL, version bigint NOT NULL)");
              jdbc.update("INSERT INTO account_" + prefix + " VALUES ('1', 'Ada', 1)");
              TypedCache<String> names =
                  context.getBean(CacheClient.class).typed(CacheCodec.utf8());
              TypedCache.Loader<String> fromDb =
                  () ->
                      jdbc.query(
                          "SELECT name, version FROM account_" + prefix + " WHERE id = '1'",
                          rs -> {
                            rs.next();
                            return TypedCache.Loaded.of(rs.getLong(2), rs.getString(1));
                          });
              assertThat(names.get("acme", "account", "1", "name", fromDb)).contains("Ada");

              // The business row and its event in one Spring transaction, through the writer.
              SpringOutboxWriter outbox = context.getBean(SpringOutboxWriter.class);
              context
                  .getBean(TransactionTemplate.class)
                  .executeWithoutResult(
                      status -> {
                        jdbc.update(
                            "UPDATE account_"
                                + prefix
                                + " SET name = 'Bea', version = 2 WHERE id = '1'");
                        try {
                          outbox.append(
                              InvalidationEvent.builder()
                                  .tenant("acme")
                                  .aggregate("account", "1")
                                  .version(2)
                                  .build());
                        } catch (java.sql.SQLException ex) {
                          throw new IllegalStateException(ex);
                        }
                      });
              // The cached "Ada" would be served until its TTL were the event not relayed and
              // applied; once it is, a read refills from the database.
              String entry =
                  new dev.invalidator.core.KeyScheme(prefix)
                      .entry(new dev.invalidator.core.AggregateRef("acme", "account", "1"), "name");
              assertThat(redis.sync().hget(entry, "val")).isEqualTo("Ada");
              await()
                  .atMost(Duration.ofSeconds(15))
                  .untilAsserted(() -> assertThat(redis.sync().hget(entry, "val")).isNull());
              assertThat(names.get("acme", "account", "1", "name", fromDb)).contains("Bea");
              assertThat(
                      jdbc.queryForObject(
                          "SELECT count(*) FROM public." + table + " WHERE relayed_at IS NULL",
                          Long.class))
                  .isZero();
            });
    assertThat(started[0].isRunning()).isFalse();
    assertThat(loopThreads()).doesNotContain("relay", "worker-0");
  }

  @Test
  void adminServerOnlyWhenItsPortIsSet() {
    runner
        .withPropertyValues(
            "invalidator.embedded.enabled=true",
            "invalidator.embedded.role=relay",
            "invalidator.embedded.admin-port=0")
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              EmbeddedDaemon daemon = context.getBean(EmbeddedDaemon.class);
              URI admin = daemon.adminUri();
              assertThat(admin).isNotNull();
              assertThat(admin.getPort()).isNotEqualTo(9464);
              HttpResponse<String> live =
                  HttpClient.newHttpClient()
                      .send(
                          HttpRequest.newBuilder(admin.resolve("/health/live")).build(),
                          HttpResponse.BodyHandlers.ofString());
              assertThat(live.statusCode()).isEqualTo(200);
              // role relay: no worker loop in this process.
              assertThat(loopThreads()).contains("relay").doesNotContain("worker-0");
            });
  }

  @Test
  void anUnknownDaemonSettingFailsTheStart() {
    runner
        .withPropertyValues(
            "invalidator.embedded.enabled=true", "invalidator.embedded.settings.worker.thread=1")
        .run(
            context -> {
              assertThat(context).hasFailed();
              Throwable cause = context.getStartupFailure();
              while (cause.getCause() != null) {
                cause = cause.getCause();
              }
              assertThat(cause).hasMessageContaining("unknown daemon setting 'worker.thread'");
            });
  }

  @Test
  void anUnknownRoleFailsTheStart() {
    runner
        .withPropertyValues("invalidator.embedded.enabled=true", "invalidator.embedded.role=relays")
        .run(
            context -> {
              assertThat(context).hasFailed();
              assertThat(context.getStartupFailure())
                  .rootCause()
                  .hasMessageContaining("'relays' must be relay, worker or all");
            });
  }

  @Test
  void enabledWithoutTheDaemonOnTheClassPathFailsNamingTheArtifact() {
    runner
        .withClassLoader(new FilteredClassLoader("dev.invalidator.server"))
        .withPropertyValues("invalidator.embedded.enabled=true")
        .run(
            context -> {
              assertThat(context).hasFailed();
              Throwable cause = context.getStartupFailure();
              while (cause.getCause() != null) {
                cause = cause.getCause();
              }
              assertThat(cause)
                  .hasMessageContaining("dev.invalidator:invalidator-server")
                  .hasMessageContaining("invalidator.embedded.enabled");
            });
  }

  @Test
  void embeddedPropertiesAreDescribedInTheGeneratedMetadata() throws IOException {
    String metadata;
    try (InputStream in =
        getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      assertThat(in).isNotNull();
      metadata = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    assertThat(metadata)
        .contains("\"invalidator.embedded.enabled\"")
        .contains("\"invalidator.embedded.role\"")
        .contains("\"invalidator.embedded.admin-port\"")
        .contains("\"invalidator.embedded.settings\"");
  }

  private static List<String> loopThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(n -> n.equals("relay") || n.startsWith("worker-"))
        .toList();
  }
}
