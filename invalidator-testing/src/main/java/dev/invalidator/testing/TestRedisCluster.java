package dev.invalidator.testing;

import static org.junit.jupiter.api.Assertions.fail;

import dev.invalidator.embedded.EmbeddedRedisCluster;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis Cluster tests run against: three masters on free loopback ports, started once per JVM
 * ({@link #shared()}) or per test class ({@link #startPrivate()}, for tests that migrate slots or
 * restart masters) from the {@code redis-server} on the {@code PATH}, else from the embedded-redis
 * jar's Redis 6.2. With neither, cluster tests are skipped with a message, except under {@code
 * CI=true}, where they fail: a skip there would hide a broken test.
 */
public final class TestRedisCluster {
  private static final Logger log = LoggerFactory.getLogger(TestRedisCluster.class);
  private static EmbeddedRedisCluster shared;

  private TestRedisCluster() {}

  /** A cluster shared by the JVM's tests; use unique key prefixes. Stopped at exit. */
  public static synchronized EmbeddedRedisCluster shared() {
    if (shared == null) {
      shared = startPrivate();
      EmbeddedRedisCluster c = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(c::close, "redis-cluster-stop"));
    }
    return shared;
  }

  /** A cluster of the caller's own, to stop when done; skips (fails under CI) without a binary. */
  public static EmbeddedRedisCluster startPrivate() {
    Optional<String> binary = EmbeddedRedisCluster.availableBinary();
    if (binary.isEmpty()) {
      String message =
          "Redis Cluster tests need redis-server: none on the PATH and the embedded-redis jar has"
              + " none for this OS/architecture";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        fail(message + " (CI=true: failing instead of skipping)");
      }
      System.err.println("SKIPPED: " + message);
      Assumptions.abort(message);
    }
    EmbeddedRedisCluster cluster = EmbeddedRedisCluster.start();
    log.info("Redis Cluster started on {} from {}", cluster.url(), cluster.binaryDescription());
    return cluster;
  }
}
