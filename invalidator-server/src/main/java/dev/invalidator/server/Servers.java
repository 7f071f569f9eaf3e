package dev.invalidator.server;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.redis.RedisClusterClients;
import dev.invalidator.redis.RedisConnection;
import dev.invalidator.redis.RedisConnector;
import dev.invalidator.redis.RedisServerInfo;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.InvalidatorConfig;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.metrics.CommandLatencyRecorder;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.netty.resolver.DefaultAddressResolverGroup;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connections a command needs: a HikariCP pool (or, for a one-shot command, a plain {@link
 * UnpooledDataSource}) for PostgreSQL and a Lettuce client for Redis.
 */
final class Servers implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Servers.class);

  private final DataSource dataSource;
  private final AutoCloseable closeDataSource;
  private final RedisConnector redis;
  private final RedisConnection<String, String> connection;

  private Servers(
      DataSource dataSource,
      AutoCloseable closeDataSource,
      RedisConnector redis,
      RedisConnection<String, String> connection) {
    this.dataSource = dataSource;
    this.closeDataSource = closeDataSource;
    this.redis = redis;
    this.connection = connection;
  }

  /** Connects to both servers, checks they answer, and logs what it connected to. */
  static Servers connect(InvalidatorConfig cfg) {
    requireConfigured(cfg);
    HikariDataSource ds = dataSource(cfg);
    // Lettuce records every command's latency by default (LatencyUtils is on the class path);
    // the daemon exports its own figures, so that per-command bookkeeping is pure overhead.
    return connect(
        cfg,
        ds,
        ds,
        DefaultClientResources.builder()
            .commandLatencyRecorder(CommandLatencyRecorder.disabled())
            .build());
  }

  /**
   * As {@link #connect}, for a command that runs a few queries and exits ({@code status}): start-up
   * is most of its time, so it starts less. PostgreSQL without a pool (a plain driver connection
   * per query; a pool's threads and idle connections would outlive every query), and a Lettuce
   * client with the JDK's resolver instead of Netty's DNS client and without JFR events (Lettuce
   * initialises JFR for them: {@code -Dio.lettuce.core.jfr=true} keeps them). The figures it reads
   * are the same.
   */
  static Servers connectOneShot(InvalidatorConfig cfg) {
    requireConfigured(cfg);
    if (System.getProperty("io.lettuce.core.jfr") == null) {
      System.setProperty("io.lettuce.core.jfr", "false");
    }
    UnpooledDataSource ds = unpooledDataSource(cfg);
    return connect(
        cfg,
        ds,
        () -> {},
        DefaultClientResources.builder()
            .commandLatencyRecorder(CommandLatencyRecorder.disabled())
            .addressResolverGroup(DefaultAddressResolverGroup.INSTANCE)
            .build());
  }

  private static void requireConfigured(InvalidatorConfig cfg) {
    if (!cfg.postgres().configured()) {
      throw new ConfigException("database.url", "is required (or pass --db-url)");
    }
    if (!cfg.redis().configured()) {
      throw new ConfigException("redis.url", "is required (or pass --redis-url)");
    }
  }

  private static Servers connect(
      InvalidatorConfig cfg,
      DataSource ds,
      AutoCloseable closeDataSource,
      ClientResources resources) {
    try {
      RedisConnector client =
          cfg.redis().cluster()
              ? RedisConnector.of(
                  RedisClusterClients.create(
                      resources,
                      RedisClusterClients.seeds("redis.url", cfg.redis().url()),
                      RedisClusterClients.DEFAULT_REFRESH_PERIOD))
              : RedisConnector.of(
                  RedisClient.create(resources, RedisURI.create(cfg.redis().url())));
      RedisConnection<String, String> conn;
      try {
        conn = client.connect();
      } catch (RuntimeException e) {
        client.client().shutdown();
        resources.shutdown();
        throw new IllegalStateException(
            "cannot connect to Redis at " + cfg.redis().maskedUrl() + ": " + e.getMessage(), e);
      }
      RedisServerInfo server;
      try {
        server = RedisServerInfo.detect(conn).requireSupported();
      } catch (RuntimeException e) {
        conn.close();
        client.client().shutdown();
        resources.shutdown();
        throw new IllegalStateException(
            "Redis at " + cfg.redis().maskedUrl() + ": " + e.getMessage(), e);
      }
      log.info(
          "connected to Redis {}{} (version {})",
          cfg.redis().maskedUrl(),
          cfg.redis().cluster() ? " (cluster)" : "",
          server.version().orElse("unknown"));
      return new Servers(ds, closeDataSource, client, conn);
    } catch (RuntimeException e) {
      closeQuietly(closeDataSource);
      throw e;
    }
  }

  /**
   * The URL for the driver: the daemon ships MariaDB's driver, which serves MySQL servers too but
   * accepts a {@code jdbc:mysql:} URL only with {@code permitMysqlScheme}; when MySQL's own
   * Connector/J is on the class path it takes the URL unchanged.
   */
  static String driverUrl(String jdbcUrl) {
    if (!jdbcUrl.startsWith("jdbc:mysql:") || jdbcUrl.contains("permitMysqlScheme")) {
      return jdbcUrl;
    }
    try {
      Class.forName("com.mysql.cj.jdbc.Driver", false, Servers.class.getClassLoader());
      return jdbcUrl;
    } catch (ClassNotFoundException ex) {
      return jdbcUrl + (jdbcUrl.contains("?") ? "&" : "?") + "permitMysqlScheme";
    }
  }

  static HikariDataSource dataSource(InvalidatorConfig cfg) {
    return dataSource(cfg, "invalidator", cfg.postgres().poolSize());
  }

  /** A pool named {@code name} of at most {@code size} connections to the configured database. */
  static HikariDataSource dataSource(InvalidatorConfig cfg, String name, int size) {
    HikariConfig hc = new HikariConfig();
    hc.setJdbcUrl(driverUrl(cfg.postgres().jdbcUrl()));
    if (!cfg.postgres().user().isEmpty()) {
      hc.setUsername(cfg.postgres().user());
    }
    if (!cfg.postgres().password().isEmpty()) {
      hc.setPassword(cfg.postgres().password());
    }
    hc.setMaximumPoolSize(size);
    hc.setPoolName(name);
    hc.setConnectionTimeout(Duration.ofSeconds(10).toMillis());
    hc.setInitializationFailTimeout(-1);
    HikariDataSource ds = new HikariDataSource(hc);
    try {
      checkConnected(cfg, ds);
    } catch (RuntimeException e) {
      ds.close();
      throw e;
    }
    return ds;
  }

  /** Opens one connection and logs what it reached; a failure names the database and its URL. */
  private static void checkConnected(InvalidatorConfig cfg, javax.sql.DataSource ds) {
    try (Connection c = ds.getConnection()) {
      logConnected(cfg, c.getMetaData());
    } catch (SQLException e) {
      throw new IllegalStateException(
          "cannot connect to "
              + databaseName(cfg)
              + " at "
              + cfg.postgres().maskedUrl()
              + ": "
              + e.getMessage(),
          e);
    }
  }

  /**
   * A data source without a pool for a one-shot command, checked and logged as {@link
   * #dataSource(InvalidatorConfig)}'s pool is.
   */
  static UnpooledDataSource unpooledDataSource(InvalidatorConfig cfg) {
    UnpooledDataSource ds =
        new UnpooledDataSource(
            driverUrl(cfg.postgres().jdbcUrl()),
            cfg.postgres().user(),
            cfg.postgres().password(),
            Duration.ofSeconds(10));
    checkConnected(cfg, ds);
    return ds;
  }

  private static void logConnected(InvalidatorConfig cfg, DatabaseMetaData md) throws SQLException {
    log.info(
        "connected to {} {} ({} {}), outbox {}.{}",
        databaseName(cfg),
        cfg.postgres().maskedUrl(),
        md.getDatabaseProductName(),
        md.getDatabaseProductVersion(),
        cfg.postgres().schema(),
        cfg.postgres().table());
  }

  /** The outbox database's family as the URL names it, for messages. */
  private static String databaseName(InvalidatorConfig cfg) {
    return cfg.postgres().dialect() == dev.invalidator.outbox.OutboxDialect.POSTGRESQL
        ? "PostgreSQL"
        : "MySQL/MariaDB";
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      log.debug("closing the data source failed", e);
    }
  }

  DataSource dataSource() {
    return dataSource;
  }

  /** The Lettuce client, standalone or cluster. */
  RedisConnector connector() {
    return redis;
  }

  /** The standalone Lettuce client; fails on a Redis Cluster (use {@link #connector()}). */
  RedisClient redis() {
    if (redis.cluster()) {
      throw new IllegalStateException("redis.cluster is on: there is no standalone Redis client");
    }
    return (RedisClient) redis.client();
  }

  /** A shared, thread-safe connection for non-blocking commands. */
  RedisConnection<String, String> connection() {
    return connection;
  }

  @Override
  public void close() {
    connection.close();
    redis.client().shutdown(Duration.ZERO, Duration.ofSeconds(2));
    redis.client().getResources().shutdown(0, 2, java.util.concurrent.TimeUnit.SECONDS);
    closeQuietly(closeDataSource);
  }
}
