package dev.invalidator.redis;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.resource.ClientResources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Lettuce {@link RedisClusterClient}s the way Invalidator uses them: seeded from a list of {@code
 * redis://} URIs, with the topology refreshed both periodically and adaptively (on {@code MOVED}
 * and {@code ASK} redirects, persistent reconnects and unknown nodes), so a slot migration or a
 * master restart is followed within one redirect rather than after the next period.
 */
public final class RedisClusterClients {
  /** How often the topology is re-read even without a trigger. */
  public static final Duration DEFAULT_REFRESH_PERIOD = Duration.ofSeconds(30);

  private RedisClusterClients() {}

  /**
   * Parses {@code seeds}: one or more {@code redis://} (or {@code rediss://}) URIs separated by
   * commas, e.g. {@code redis://10.0.0.1:6379,redis://10.0.0.2:6379}. Any one reachable node is
   * enough; the client discovers the rest.
   *
   * @throws IllegalArgumentException naming {@code setting} when the list is empty or an element is
   *     not a Redis URI
   */
  public static List<RedisURI> seeds(String setting, String seeds) {
    if (seeds == null || seeds.isBlank()) {
      throw new IllegalArgumentException(setting + " must name at least one cluster node");
    }
    List<RedisURI> out = new ArrayList<>();
    for (String part : seeds.split(",")) {
      String s = part.strip();
      if (s.isEmpty()) {
        continue;
      }
      if (!s.startsWith("redis://") && !s.startsWith("rediss://")) {
        throw new IllegalArgumentException(
            setting + " must be redis:// URIs separated by commas, got an element " + safe(s));
      }
      try {
        out.add(RedisURI.create(s));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException(
            setting + " has an element that is not a Redis URI: " + safe(s), e);
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException(setting + " must name at least one cluster node");
    }
    return out;
  }

  /** A cluster client on {@code seeds} ({@link #seeds}) with the default refresh period. */
  public static RedisClusterClient create(String seeds) {
    return create(seeds("redis.url", seeds), DEFAULT_REFRESH_PERIOD);
  }

  /** A cluster client on {@code seeds} refreshing its topology every {@code refreshPeriod}. */
  public static RedisClusterClient create(List<RedisURI> seeds, Duration refreshPeriod) {
    return create(null, seeds, refreshPeriod);
  }

  /**
   * Like {@link #create(List, Duration)} on shared client resources ({@code null}: the client's
   * own).
   */
  public static RedisClusterClient create(
      ClientResources resources, List<RedisURI> seeds, Duration refreshPeriod) {
    if (refreshPeriod == null || refreshPeriod.isNegative() || refreshPeriod.isZero()) {
      throw new IllegalArgumentException(
          "redis.cluster refresh period must be positive, got " + refreshPeriod);
    }
    RedisClusterClient client =
        resources == null
            ? RedisClusterClient.create(seeds)
            : RedisClusterClient.create(resources, seeds);
    client.setOptions(
        ClusterClientOptions.builder()
            .topologyRefreshOptions(
                ClusterTopologyRefreshOptions.builder()
                    .enablePeriodicRefresh(refreshPeriod)
                    .enableAllAdaptiveRefreshTriggers()
                    .adaptiveRefreshTriggersTimeout(Duration.ofSeconds(1))
                    .build())
            .build());
    return client;
  }

  /** The URI without user info, for error messages: a password never reaches a log. */
  private static String safe(String uri) {
    return uri.replaceAll("//[^@/]*@", "//***@");
  }
}
