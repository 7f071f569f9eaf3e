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

  private static final Logger log = LoggerFactory.getLogger(TestServers.class);
  private static String postgresUrl;
  private static String redisUrl;

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
}
