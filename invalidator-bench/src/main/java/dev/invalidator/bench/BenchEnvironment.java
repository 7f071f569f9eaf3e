package dev.invalidator.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.cdc.CdcRelay;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.embedded.EmbeddedPostgresServer;
import dev.invalidator.embedded.EmbeddedRedisServer;
import dev.invalidator.outbox.OutboxDialect;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.io.PrintStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The servers one run talks to, and everything it creates on them. Every table name starts with
 * {@code bench_<random>} and every Redis key with {@code bench-<random>}, so a run never touches
 * another's data; {@link #close()} drops the tables and unlinks the keys, and stops embedded
 * servers started for the run.
 */
final class BenchEnvironment implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(BenchEnvironment.class);

  private final String jdbcUrl;
  private final String redisUrl;
  private final boolean embeddedPostgres;
  private final boolean embeddedRedis;
  private final List<AutoCloseable> embedded;
  private final HikariDataSource dataSource;
  private final RedisClient redis;
  private final io.lettuce.core.resource.ClientResources clientResources;
  private final StatefulRedisConnection<String, String> connection;
  private final OutboxDialect dialect;
  private final String runId = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  private final List<String> tables = new ArrayList<>();
  private final List<OutboxTable> outboxes = new ArrayList<>();
  private final AtomicBoolean closed = new AtomicBoolean();

  private BenchEnvironment(
      String jdbcUrl,
      String redisUrl,
      boolean embeddedPostgres,
      boolean embeddedRedis,
      List<AutoCloseable> embedded,
      int poolSize) {
    this.jdbcUrl = jdbcUrl;
    this.redisUrl = redisUrl;
    this.embeddedPostgres = embeddedPostgres;
    this.embeddedRedis = embeddedRedis;
    this.embedded = embedded;
    this.dialect = OutboxDialect.forJdbcUrl(jdbcUrl);
    HikariConfig hc = new HikariConfig();
    hc.setJdbcUrl(jdbcUrl);
    hc.setMaximumPoolSize(poolSize);
    hc.setPoolName("bench");
    hc.setConnectionTimeout(Duration.ofSeconds(10).toMillis());
    this.dataSource = new HikariDataSource(hc);
    this.clientResources =
        io.lettuce.core.resource.DefaultClientResources.builder()
            .commandLatencyRecorder(io.lettuce.core.metrics.CommandLatencyRecorder.disabled())
            .build();
    try {
      // As the daemon's client (Servers.connect): Lettuce's per-command latency recording off.
      // It is on by default and costs every command a histogram update on the I/O thread (JFR of
      // the apply scenario), so with it the bench measured a client no daemon runs.
      this.redis = RedisClient.create(clientResources, RedisURI.create(redisUrl));
      this.connection = redis.connect();
    } catch (RuntimeException ex) {
      dataSource.close();
      clientResources.shutdown(0, 2, java.util.concurrent.TimeUnit.SECONDS);
      throw ex;
    }
  }

  /**
   * Connects to the given servers, or starts embedded ones for a null URL.
   *
   * @param postgresUrl a JDBC URL ({@code jdbc:postgresql://...}, {@code jdbc:mysql://...} or
   *     {@code jdbc:mariadb://...}) or null
   * @param redisUrl a Redis URL ({@code redis://...}) or null
   */
  static BenchEnvironment open(String postgresUrl, String redisUrl, int poolSize, PrintStream out) {
    List<AutoCloseable> embedded = new ArrayList<>();
    try {
      boolean embeddedPg = postgresUrl == null;
      boolean embeddedRedis = redisUrl == null;
      if (embeddedPg) {
        out.println("bench: no --db-url, starting embedded PostgreSQL...");
        EmbeddedPostgresServer pg = EmbeddedPostgresServer.start();
        embedded.add(pg);
        postgresUrl = pg.jdbcUrl();
      } else {
        requireJdbcUrl(postgresUrl);
      }
      if (embeddedRedis) {
        out.println("bench: no --redis-url, starting embedded Redis...");
        EmbeddedRedisServer r = EmbeddedRedisServer.start();
        embedded.add(r);
        redisUrl = r.url();
      }
      return new BenchEnvironment(
          postgresUrl, redisUrl, embeddedPg, embeddedRedis, embedded, poolSize);
    } catch (RuntimeException ex) {
      stopAll(embedded);
      throw ex;
    }
  }

  /**
   * Refuses anything but a JDBC URL of PostgreSQL, MySQL or MariaDB, without echoing credentials.
   */
  static void requireJdbcUrl(String url) {
    if (!url.startsWith("jdbc:postgresql:")
        && !url.startsWith("jdbc:mysql:")
        && !url.startsWith("jdbc:mariadb:")) {
      throw new IllegalArgumentException(
          "--db-url must be a JDBC URL (jdbc:postgresql://host:port/db?user=...,"
              + " jdbc:mysql://... or jdbc:mariadb://...), got "
              + url.replaceAll("//[^@/]*@", "//***@")
                  .replaceAll("(?i)(password=)[^&\\s]*", "$1***"));
    }
  }

  /** A new connection outside the pool (writers hold one each for a whole phase). */
  Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl);
  }

  /** The outbox database's dialect (PostgreSQL, or MySQL for MySQL and MariaDB). */
  OutboxDialect dialect() {
    return dialect;
  }

  /** True when the outbox database is MySQL or MariaDB. */
  boolean mysql() {
    return dialect == OutboxDialect.MYSQL;
  }

  /** {@code table}'s qualified name in this database's SQL. */
  String qualified(OutboxTable table) {
    return dialect.qualified(table);
  }

  /** The SQL expression of a random event id: {@code gen_random_uuid()} or {@code UUID()}. */
  String uuidSql() {
    return mysql() ? "UUID()" : "gen_random_uuid()";
  }

  /** The JDBC URL of the run's database (with its credentials: never print it). */
  String jdbcUrl() {
    return jdbcUrl;
  }

  /** The URL of the run's Redis. */
  String redisUrl() {
    return redisUrl;
  }

  HikariDataSource dataSource() {
    return dataSource;
  }

  RedisClient redis() {
    return redis;
  }

  /** The run's shared Redis connection (string codec), as the daemon shares one. */
  StatefulRedisConnection<String, String> connection() {
    return connection;
  }

  boolean embeddedPostgres() {
    return embeddedPostgres;
  }

  boolean embeddedRedis() {
    return embeddedRedis;
  }

  String runId() {
    return runId;
  }

  /** A key scheme of this run, one per scenario so scenarios never see each other's streams. */
  KeyScheme keys(String scenario) {
    return new KeyScheme("bench-" + runId + "-" + scenario);
  }

  /** A fresh outbox table {@code bench_<run>_<suffix>}, migrated; dropped by {@link #close()}. */
  OutboxTable outbox(String suffix) {
    OutboxTable table = OutboxTable.of("public", "bench_" + runId + "_" + suffix);
    outboxes.add(table);
    OutboxSchema.migrate(dataSource, table);
    return table;
  }

  /**
   * Creates {@code bench_<run>_<suffix>(id int primary key, version bigint, balance bigint)} with
   * rows {@code 0..rows-1} at version 0: the business table of the write scenarios.
   */
  String accounts(String suffix, int rows) throws SQLException {
    String table = "bench_" + runId + "_" + suffix;
    tables.add(table);
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE "
              + table
              + " (id int PRIMARY KEY, version bigint NOT NULL, balance bigint NOT NULL)");
      s.execute(
          "INSERT INTO " + table + " SELECT g, 0, 0 FROM generate_series(0, " + (rows - 1) + ") g");
      s.execute("ANALYZE " + table);
    }
    return table;
  }

  /**
   * A plain table {@code bench_<run>_<suffix>} shaped like {@code outbox} (columns, defaults,
   * identity, constraints and indexes) but without its wake-up trigger: the raw insert target.
   */
  OutboxTable likeWithoutTrigger(OutboxTable outbox, String suffix) throws SQLException {
    OutboxTable table = OutboxTable.of("public", "bench_" + runId + "_" + suffix);
    tables.add(qualified(table));
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      // MySQL's LIKE copies columns, defaults, indexes and CHECKs; it has no trigger to leave out.
      s.execute(
          mysql()
              ? "CREATE TABLE " + qualified(table) + " LIKE " + qualified(outbox)
              : "CREATE TABLE "
                  + table.qualified()
                  + " (LIKE "
                  + outbox.qualified()
                  + " INCLUDING ALL)");
    }
    return table;
  }

  /** Unlinks every key of {@code keys}' prefix (SCAN, so the server is never blocked). */
  long deleteKeys(KeyScheme keys) {
    return deleteMatching(keys.prefix() + ":*");
  }

  private long deleteMatching(String pattern) {
    RedisCommands<String, String> sync = connection.sync();
    ScanArgs args = ScanArgs.Builder.matches(pattern).limit(1000);
    KeyScanCursor<String> cursor = sync.scan(args);
    long deleted = 0;
    while (true) {
      if (!cursor.getKeys().isEmpty()) {
        deleted += sync.unlink(cursor.getKeys().toArray(String[]::new));
      }
      if (cursor.isFinished()) {
        return deleted;
      }
      cursor = sync.scan(ScanCursor.of(cursor.getCursor()), args);
    }
  }

  /** Drops this run's tables, unlinks its keys, closes connections, stops embedded servers. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      for (String t : tables) {
        s.execute("DROP TABLE IF EXISTS " + t);
      }
      for (OutboxTable t : outboxes) {
        if (mysql()) {
          OutboxSchema.drop(dataSource, t);
          continue;
        }
        s.execute("DROP TABLE IF EXISTS " + t.qualified() + " CASCADE");
        s.execute("DROP TABLE IF EXISTS \"" + t.schema() + "\".\"" + t.historyTable() + "\"");
        s.execute("DROP FUNCTION IF EXISTS \"" + t.schema() + "\".\"" + t.table() + "_wakeup\"()");
        // The CDC relay's offsets table (the relay-drain scenario's Debezium peer).
        s.execute("DROP TABLE IF EXISTS \"" + t.schema() + "\".\"" + t.table() + "_cdc_offsets\"");
        // A daemon started with the CDC relay (the sustained scenario's --relays cdc) leaves its
        // slot and publication: a slot left behind pins WAL for ever.
        s.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                + " WHERE slot_name = '"
                + CdcRelay.defaultSlotName(t)
                + "' AND NOT active");
        s.execute("DROP PUBLICATION IF EXISTS \"" + CdcRelay.defaultPublicationName(t) + "\"");
      }
    } catch (SQLException | RuntimeException ex) {
      log.warn("bench: dropping tables of run {} failed: {}", runId, ex.toString());
    }
    try {
      deleteMatching("bench-" + runId + "-*");
    } catch (RuntimeException ex) {
      log.warn("bench: deleting keys of run {} failed: {}", runId, ex.toString());
    }
    connection.close();
    redis.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    clientResources.shutdown(0, 2, java.util.concurrent.TimeUnit.SECONDS);
    dataSource.close();
    stopAll(embedded);
  }

  private static void stopAll(List<AutoCloseable> servers) {
    for (AutoCloseable c : servers) {
      try {
        c.close();
      } catch (Exception ex) {
        log.debug("stopping an embedded server failed", ex);
      }
    }
  }

  @Override
  public String toString() {
    return "BenchEnvironment[run " + runId + ", redis " + redisUrl + "]";
  }
}
