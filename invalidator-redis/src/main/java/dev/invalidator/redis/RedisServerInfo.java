package dev.invalidator.redis;

import dev.invalidator.core.InvalidatorException;
import io.lettuce.core.api.StatefulRedisConnection;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a Redis server can do, read once from {@code INFO server}.
 *
 * <p>Invalidator needs Redis 6.2 ({@code XAUTOCLAIM}, {@code XPENDING ... IDLE}, {@code XTRIM ...
 * MINID}); {@link #requireSupported()} refuses older servers with a message naming the version.
 * Redis 7.0 changed two replies the stream source relies on: {@code XAUTOCLAIM} reports the entries
 * deleted while pending (and drops them from the pending list itself), and {@code XINFO GROUPS}
 * reports the group's lag (absent before, and nil on 7.x after some deletions, so the source counts
 * it itself when the field has no number). See {@link #reportsDeletedOnClaim()}.
 *
 * <p>When the version cannot be read ({@code INFO} renamed away or denied by an ACL) it is unknown:
 * the check passes and the 6.2 ways, which also work on 7.x, are used.
 */
public final class RedisServerInfo {
  /** The oldest Redis release Invalidator runs on. */
  public static final String MINIMUM_VERSION = "6.2";

  private static final Logger log = LoggerFactory.getLogger(RedisServerInfo.class);
  private static final Pattern VERSION_FIELD =
      Pattern.compile("(?m)^redis_version:(\\d+)\\.(\\d+)(?:\\.(\\d+))?\\s*$");
  private static final RedisServerInfo UNKNOWN = new RedisServerInfo(-1, -1, -1);

  private final int major;
  private final int minor;
  private final int patch;

  private RedisServerInfo(int major, int minor, int patch) {
    this.major = major;
    this.minor = minor;
    this.patch = patch;
  }

  /**
   * Reads the server's version with {@code INFO server}; unknown (with a warning) when the server
   * refuses {@code INFO} or its reply has no {@code redis_version}. Connection failures propagate,
   * translated.
   */
  public static RedisServerInfo detect(RedisConnection<String, String> connection) {
    String info;
    try {
      info = connection.sync().info("server");
    } catch (RuntimeException ex) {
      if (!RedisErrors.isServerError(ex)) {
        throw RedisErrors.translate("INFO server", ex);
      }
      log.warn(
          "cannot read the Redis version ({}); assuming Redis {} replies",
          RedisErrors.unwrap(ex).getMessage(),
          MINIMUM_VERSION);
      return UNKNOWN;
    }
    RedisServerInfo parsed = parse(info);
    if (parsed.version().isEmpty()) {
      log.warn(
          "INFO server has no redis_version field; assuming Redis {} replies", MINIMUM_VERSION);
    }
    return parsed;
  }

  /** Like {@link #detect(RedisConnection)}, on a standalone connection. */
  public static RedisServerInfo detect(StatefulRedisConnection<String, String> connection) {
    return detect(RedisConnection.of(connection));
  }

  /** Parses the text of {@code INFO server}; unknown when it has no {@code redis_version}. */
  static RedisServerInfo parse(String info) {
    Matcher m = VERSION_FIELD.matcher(info == null ? "" : info);
    if (!m.find()) {
      return UNKNOWN;
    }
    return new RedisServerInfo(
        Integer.parseInt(m.group(1)),
        Integer.parseInt(m.group(2)),
        m.group(3) == null ? 0 : Integer.parseInt(m.group(3)));
  }

  /** The server's version, {@code major.minor.patch}, or empty when unknown. */
  public Optional<String> version() {
    return major < 0 ? Optional.empty() : Optional.of(major + "." + minor + "." + patch);
  }

  /** True if the version is known and at least {@code major.minor}. */
  public boolean atLeast(int major, int minor) {
    return this.major > major || (this.major == major && this.minor >= minor);
  }

  /**
   * Returns this if the server is new enough for Invalidator (or its version is unknown).
   *
   * @throws InvalidatorException (not retryable) naming the version when it is older than {@value
   *     #MINIMUM_VERSION}
   */
  public RedisServerInfo requireSupported() {
    if (major >= 0 && !atLeast(6, 2)) {
      throw new InvalidatorException(
          "Redis "
              + version().orElseThrow()
              + " is not supported: Invalidator needs Redis "
              + MINIMUM_VERSION
              + " or newer (XAUTOCLAIM, XPENDING ... IDLE, XTRIM ... MINID)",
          false);
    }
    return this;
  }

  /**
   * True when {@code XAUTOCLAIM} lists the ids of entries deleted while pending and removes them
   * from the pending list (7.0+); before, it returns a nil element without the id.
   */
  boolean reportsDeletedOnClaim() {
    return atLeast(7, 0);
  }

  @Override
  public String toString() {
    return "Redis " + version().orElse("(version unknown)");
  }
}
