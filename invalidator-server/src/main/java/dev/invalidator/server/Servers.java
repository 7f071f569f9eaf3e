package dev.invalidator.server;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.redis.RedisServerInfo;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.InvalidatorConfig;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.metrics.CommandLatencyRecorder;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.SQLException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connections a command needs: a HikariCP pool for PostgreSQL and a Lettuce client for Redis.
 */
final class Servers implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Servers.class);

  private final HikariDataSource dataSource;
  private final RedisClient redis;
  private final StatefulRedisConnection<String, String> connection;

  private Servers(
      HikariDataSource dataSource,
      RedisClient redis,
      StatefulRedisConnection<String, String> connection) {
    this.dataSource = dataSource;
    this.redis = redis;
    this.connection = connection;
  }

  /** Connects to both servers, checks they answer, and logs what it connected to. */
  static Servers connect(InvalidatorConfig cfg) {
    if (!cfg.postgres().configured()) {
      throw new ConfigException("database.url", "is required (or pass --db-url)");
    }
    if (!cfg.redis().configured()) {
      throw new ConfigException("redis.url", "is required (or pass --redis-url)");
    }
    HikariDataSource ds = dataSource(cfg);
    try {
      // Lettuce records every command's latency by default (LatencyUtils is on the class path);
      // the daemon exports its own figures, so that per-command bookkeeping is pure overhead.
      ClientResources resources =
          DefaultClientResources.builder()
              .commandLatencyRecorder(CommandLatencyRecorder.disabled())
              .build();
      RedisClient client = RedisClient.create(resources, RedisURI.create(cfg.redis().url()));
      StatefulRedisConnection<String, String> conn;
      try {
        conn = client.connect();
      } catch (RuntimeException e) {
        client.shutdown();
        resources.shutdown();
        throw new IllegalStateException(
            "cannot connect to Redis at " + cfg.redis().maskedUrl() + ": " + e.getMessage(), e);
      }
      RedisServerInfo server;
      try {
        server = RedisServerInfo.detect(conn).requireSupported();
      } catch (RuntimeException e) {
        conn.close();
        client.shutdown();
        resources.shutdown();
        throw new IllegalStateException(
            "Redis at " + cfg.redis().maskedUrl() + ": " + e.getMessage(), e);
      }
      log.info(
          "connected to Redis {} (version {})",
          cfg.redis().maskedUrl(),
          server.version().orElse("unknown"));
      return new Servers(ds, client, conn);
    } catch (RuntimeException e) {
      ds.close();
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
    try (Connection c = ds.getConnection()) {
      DatabaseMetaData md = c.getMetaData();
      log.info(
          "connected to PostgreSQL {} ({} {}), outbox {}.{}",
          cfg.postgres().maskedUrl(),
          md.getDatabaseProductName(),
          md.getDatabaseProductVersion(),
          cfg.postgres().schema(),
          cfg.postgres().table());
    } catch (SQLException e) {
      ds.close();
      throw new IllegalStateException(
          "cannot connect to PostgreSQL at " + cfg.postgres().maskedUrl() + ": " + e.getMessage(),
          e);
    }
    return ds;
  }

  HikariDataSource dataSource() {
    return dataSource;
  }

  RedisClient redis() {
    return redis;
  }

  /** A shared, thread-safe connection for non-blocking commands. */
  StatefulRedisConnection<String, String> connection() {
    return connection;
  }

  @Override
  public void close() {
    connection.close();
    redis.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    redis.getResources().shutdown(0, 2, java.util.concurrent.TimeUnit.SECONDS);
    dataSource.close();
  }
}
