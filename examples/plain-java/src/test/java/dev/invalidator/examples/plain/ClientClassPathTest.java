package dev.invalidator.examples.plain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.VersionGatedRedisTarget;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * An application's use of Invalidator on the class path an application gets from {@code
 * invalidator-client} (its own dependencies, nothing optional, nothing of the daemon's; the
 * module's enforcer rule bans them from this test's class path too): the writer appends in the
 * caller's transaction, the cache fills, serves and stops serving after the event, and the one
 * feature that needs a missing optional artifact refuses by naming it.
 */
class ClientClassPathTest {
  /** One class of each library an application must not get from invalidator-client. */
  private static final List<String> DAEMON_LIBRARIES =
      List.of(
          "org.flywaydb.core.Flyway",
          "io.github.resilience4j.circuitbreaker.CircuitBreaker",
          "kotlin.Unit",
          "io.opentelemetry.api.OpenTelemetry",
          "io.micrometer.core.instrument.MeterRegistry",
          "org.HdrHistogram.Histogram",
          "dev.invalidator.redis.RedisStreamSource",
          "dev.invalidator.outbox.PollingRelay");

  private static PGSimpleDataSource dataSource;
  private static RedisClient redisClient;
  private static StatefulRedisConnection<String, String> redis;

  @BeforeAll
  static void servers() {
    dataSource = new PGSimpleDataSource();
    dataSource.setUrl(TestServers.postgresUrl());
    redisClient = RedisClient.create(TestServers.redisUrl());
    redis = redisClient.connect();
  }

  @AfterAll
  static void close() {
    redis.close();
    redisClient.shutdown();
  }

  @Test
  void theDaemonsLibrariesAreNotOnTheClassPath() {
    // The check itself finds what is there: the client's own classes and its Redis client.
    assertThat(loadable("dev.invalidator.redis.CacheClient")).isTrue();
    assertThat(loadable("io.lettuce.core.RedisClient")).isTrue();
    assertThat(DAEMON_LIBRARIES).noneMatch(ClientClassPathTest::loadable);
  }

  @Test
  void writesInTheCallersTransactionAndServesTheNewVersionOnceTheEventIsApplied()
      throws SQLException {
    String suffix = UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    OutboxTable table = OutboxTable.of("public", "outbox_" + suffix);
    createTables(table, "accounts_" + suffix);
    KeyScheme keys = new KeyScheme("plain" + suffix);
    try (CacheClient cache =
            CacheClient.builder().redisClient(redisClient).keyScheme(keys).build();
        VersionGatedRedisTarget worker =
            new VersionGatedRedisTarget(redis, keys, cache.fenceTtl())) {
      Accounts accounts =
          new Accounts(dataSource, "accounts_" + suffix, OutboxWriter.create(table), cache);

      assertThat(accounts.find("acme", "7")).contains(new Accounts.Account("7", 100));
      assertThat(accounts.find("acme", "7")).contains(new Accounts.Account("7", 100));
      assertThat(cache.stats().hits()).isEqualTo(1);
      assertThat(cache.stats().fills()).isEqualTo(1);

      assertThat(accounts.deposit("acme", "7", 5)).isEqualTo(2);

      // The daemon's part, played here by its target (in the client jar): apply the row's event.
      InvalidationEvent event = onlyRow(table);
      assertThat(event.aggregate().id()).isEqualTo("7");
      assertThat(event.aggregateVersion()).isEqualTo(2);
      assertThat(event.eventType()).isEqualTo("deposited");
      assertThat(event.trace().isPresent()).isFalse(); // no OpenTelemetry, no span to record
      worker.apply(List.of(event));

      assertThat(accounts.find("acme", "7")).contains(new Accounts.Account("7", 105));
    } finally {
      dropTables(table, "accounts_" + suffix);
    }
  }

  @Test
  void migrateRefusesWithoutFlywayNamingTheArtifactsAndCreatesNothing() throws SQLException {
    OutboxTable table = OutboxTable.of("public", "outbox_noflyway");

    assertThatThrownBy(() -> OutboxSchema.migrate(dataSource, table))
        .isInstanceOf(InvalidatorException.class)
        .hasMessageContaining("OutboxSchema.migrate needs Flyway")
        .hasMessageContaining("org.flywaydb:flyway-core")
        .hasMessageContaining("org.flywaydb:flyway-database-postgresql");
    try (Connection c = dataSource.getConnection();
        ResultSet rs = c.getMetaData().getTables(null, "public", "outbox_noflyway%", null)) {
      assertThat(rs.next()).as("a table was created").isFalse();
    }
  }

  private static boolean loadable(String className) {
    try {
      Class.forName(className, false, ClientClassPathTest.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException ex) {
      return false;
    }
  }

  /** The outbox table of the README's contract, created with plain SQL (no Flyway here). */
  private static void createTables(OutboxTable table, String accounts) throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE "
              + table.qualified()
              + " (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL"
              + " UNIQUE, tenant_id text NOT NULL, aggregate_type text NOT NULL, aggregate_id text"
              + " NOT NULL, aggregate_version bigint NOT NULL, event_type text NOT NULL, payload"
              + " jsonb NOT NULL DEFAULT '{}', traceparent text, tracestate text, created_at"
              + " timestamptz NOT NULL DEFAULT clock_timestamp(), relayed_at timestamptz)");
      s.execute(
          "CREATE TABLE "
              + accounts
              + " (tenant text, id text, balance bigint NOT NULL,"
              + " version bigint NOT NULL, PRIMARY KEY (tenant, id))");
      s.execute("INSERT INTO " + accounts + " VALUES ('acme', '7', 100, 1)");
    }
  }

  private static InvalidationEvent onlyRow(OutboxTable table) throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version,"
                    + " event_type, traceparent FROM "
                    + table.qualified())) {
      assertThat(rs.next()).as("the deposit's outbox row").isTrue();
      InvalidationEvent event =
          InvalidationEvent.builder()
              .eventId(UUID.fromString(rs.getString(1)))
              .tenant(rs.getString(2))
              .aggregate(rs.getString(3), rs.getString(4))
              .version(rs.getLong(5))
              .eventType(rs.getString(6))
              .build();
      assertThat(rs.getString(7)).isNull();
      assertThat(rs.next()).as("one row per deposit").isFalse();
      return event;
    }
  }

  private static void dropTables(OutboxTable table, String accounts) throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table.qualified() + ", " + accounts);
    }
  }
}
