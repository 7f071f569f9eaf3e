package dev.invalidator.spring;

import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.NearCacheOptions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Settings under {@code invalidator.*}. The names and defaults are the daemon's ({@code
 * redis.prefix}, {@code postgres.schema}, {@code cache.*}, {@code nearCache.*}): the fence TTL and
 * the near-cache channels must be the daemon's, and the {@code CacheClient} refuses to start on a
 * different fence TTL (see the README, "Agreement with the daemon").
 */
@ConfigurationProperties("invalidator")
public class InvalidatorProperties {
  /** Whether the starter creates its beans at all. */
  private boolean enabled = true;

  private final Redis redis = new Redis();
  private final Outbox outbox = new Outbox();
  private final Cache cache = new Cache();
  private final NearCache nearCache = new NearCache();
  private final Health health = new Health();
  private final Embedded embedded = new Embedded();

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public Redis getRedis() {
    return redis;
  }

  public Outbox getOutbox() {
    return outbox;
  }

  public Cache getCache() {
    return cache;
  }

  public NearCache getNearCache() {
    return nearCache;
  }

  public Health getHealth() {
    return health;
  }

  public Embedded getEmbedded() {
    return embedded;
  }

  /**
   * The daemon (relay and workers) in the application's process, for small deployments; needs the
   * dependency dev.invalidator:invalidator-server.
   */
  public static class Embedded {
    /**
     * Whether the application runs the relay and workers itself (needs invalidator-server on the
     * class path).
     */
    private boolean enabled;

    /** Which loops run in this process: relay, worker or all. */
    private String role = "all";

    /** Whether the daemon creates or upgrades the outbox table when it starts. */
    private boolean migrate = true;

    /**
     * Port of the daemon's admin HTTP server (status page, /metrics, health); empty: no admin
     * server. 0 picks a free port.
     */
    private Integer adminPort;

    /**
     * Redis URL for the daemon (redis:// or rediss://); empty: the application's standalone Redis
     * (spring.data.redis.*).
     */
    private String redisUrl;

    /**
     * Further daemon settings by their names (worker.threads, relay.pollInterval, ...), over
     * everything the starter derives.
     */
    private Map<String, String> settings = new LinkedHashMap<>();

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public String getRole() {
      return role;
    }

    public void setRole(String role) {
      this.role = role;
    }

    public boolean isMigrate() {
      return migrate;
    }

    public void setMigrate(boolean migrate) {
      this.migrate = migrate;
    }

    public Integer getAdminPort() {
      return adminPort;
    }

    public void setAdminPort(Integer adminPort) {
      this.adminPort = adminPort;
    }

    public String getRedisUrl() {
      return redisUrl;
    }

    public void setRedisUrl(String redisUrl) {
      this.redisUrl = redisUrl;
    }

    public Map<String, String> getSettings() {
      return settings;
    }

    public void setSettings(Map<String, String> settings) {
      this.settings = settings;
    }
  }

  /** The Actuator health indicator (when Actuator is on the class path). */
  public static class Health {
    /** Whether the invalidator health indicator is registered. */
    private boolean enabled = true;

    /** The workers' consumer group; the daemon's worker.group. */
    private String group = "invalidator";

    /** Age of the oldest unrelayed outbox row beyond which the details say lagging. */
    private Duration maxOutboxAge = Duration.ofMinutes(1);

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public String getGroup() {
      return group;
    }

    public void setGroup(String group) {
      this.group = group;
    }

    public Duration getMaxOutboxAge() {
      return maxOutboxAge;
    }

    public void setMaxOutboxAge(Duration maxOutboxAge) {
      this.maxOutboxAge = maxOutboxAge;
    }
  }

  /** Redis key settings. */
  public static class Redis {
    /** Prefix of every Redis key; the daemon's redis.prefix. */
    private String prefix = KeyScheme.DEFAULT_PREFIX;

    public String getPrefix() {
      return prefix;
    }

    public void setPrefix(String prefix) {
      this.prefix = prefix;
    }
  }

  /** Where the outbox table is. */
  public static class Outbox {
    /** Schema of the outbox table; the daemon's postgres.schema. */
    private String schema = OutboxTable.DEFAULT_SCHEMA;

    /** Name of the outbox table; the daemon's postgres.table. */
    private String table = OutboxTable.DEFAULT_TABLE;

    public String getSchema() {
      return schema;
    }

    public void setSchema(String schema) {
      this.schema = schema;
    }

    public String getTable() {
      return table;
    }

    public void setTable(String table) {
      this.table = table;
    }
  }

  /** The read-through cache. */
  public static class Cache {
    /** How long an entry lives at most. */
    private Duration entryTtl = CacheClient.DEFAULT_ENTRY_TTL;

    /**
     * TTL of aggregate fences; must equal the daemon's cache.fenceTtl (the client refuses to start
     * otherwise). Empty: entry TTL plus 5 minutes, the daemon's default with the default entry TTL.
     */
    private Duration fenceTtl;

    /** A fill whose database read took longer is dropped. */
    private Duration fillDeadline = CacheClient.DEFAULT_FILL_DEADLINE;

    /** How long a cached absence (a loader's "no such row at version w") lives at most. */
    private Duration negativeTtl = CacheClient.DEFAULT_NEGATIVE_TTL;

    /**
     * Fill lease: how long other processes wait for one process's fill of a missed entry (0 turns
     * the cross-process single flight off).
     */
    private Duration fillLease = CacheClient.DEFAULT_FILL_LEASE;

    /** Whether every fill registers under the tenant tag _all, so flush --tenant reaches it. */
    private boolean tenantTag = true;

    public Duration getEntryTtl() {
      return entryTtl;
    }

    public void setEntryTtl(Duration entryTtl) {
      this.entryTtl = entryTtl;
    }

    public Duration getFenceTtl() {
      return fenceTtl;
    }

    public void setFenceTtl(Duration fenceTtl) {
      this.fenceTtl = fenceTtl;
    }

    public Duration getFillDeadline() {
      return fillDeadline;
    }

    public void setFillDeadline(Duration fillDeadline) {
      this.fillDeadline = fillDeadline;
    }

    public Duration getNegativeTtl() {
      return negativeTtl;
    }

    public void setNegativeTtl(Duration negativeTtl) {
      this.negativeTtl = negativeTtl;
    }

    public Duration getFillLease() {
      return fillLease;
    }

    public void setFillLease(Duration fillLease) {
      this.fillLease = fillLease;
    }

    public boolean isTenantTag() {
      return tenantTag;
    }

    public void setTenantTag(boolean tenantTag) {
      this.tenantTag = tenantTag;
    }
  }

  /** The optional in-process tier. */
  public static class NearCache {
    /** Whether the in-process tier is on. */
    private boolean enabled;

    /** Pub/Sub channels; must equal the daemon's nearCache.channels (else the tier stays off). */
    private int channels = NearCacheOptions.DEFAULT_CHANNELS;

    /** Most aggregates held. */
    private long maximumSize = NearCacheOptions.DEFAULT_MAXIMUM_SIZE;

    /** How long a value is served from process memory at most. */
    private Duration ttl = NearCacheOptions.DEFAULT_TTL;

    /** Silence after which the tier is flushed and bypassed; longer than the heartbeat interval. */
    private Duration heartbeatTimeout = NearCacheOptions.DEFAULT_HEARTBEAT_TIMEOUT;

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public int getChannels() {
      return channels;
    }

    public void setChannels(int channels) {
      this.channels = channels;
    }

    public long getMaximumSize() {
      return maximumSize;
    }

    public void setMaximumSize(long maximumSize) {
      this.maximumSize = maximumSize;
    }

    public Duration getTtl() {
      return ttl;
    }

    public void setTtl(Duration ttl) {
      this.ttl = ttl;
    }

    public Duration getHeartbeatTimeout() {
      return heartbeatTimeout;
    }

    public void setHeartbeatTimeout(Duration heartbeatTimeout) {
      this.heartbeatTimeout = heartbeatTimeout;
    }
  }
}
