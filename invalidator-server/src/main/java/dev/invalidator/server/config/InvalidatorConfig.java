package dev.invalidator.server.config;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.http.CdnProvider;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.RedisClusterClients;
import java.net.URI;
import java.time.Duration;
import java.util.Map;

/**
 * The daemon's configuration, immutable and validated as a whole. Built by {@link ConfigLoader};
 * every error names the setting and its environment variable.
 */
public record InvalidatorConfig(
    Postgres postgres,
    Redis redis,
    Relay relay,
    Worker worker,
    Cache cache,
    Tags tags,
    NearCache nearCache,
    Admin admin,
    Observability observability,
    Recovery recovery,
    TargetsConfig targets,
    Observer observer,
    Kafka kafka,
    WorkflowsConfig workflows) {

  /**
   * The transport events travel on between the relay and the workers.
   *
   * @param transport {@code redis} or {@code kafka}
   * @param bootstrap the Kafka cluster (kafka only)
   * @param topic the event topic; its dead letters are in {@code <topic>-dlt}
   * @param groupId the workers' consumer group
   * @param partitions partitions of the event topic when the daemon creates it
   * @param replicationFactor replication factor of created topics; -1 for the broker's default
   * @param properties Kafka client settings passed through to every producer, consumer and admin
   *     client the daemon and its commands create ({@code kafka.properties.<name>}: {@code
   *     security.protocol}, {@code sasl.mechanism}, {@code sasl.jaas.config}, {@code ssl.*}, ...);
   *     printed only {@link #redactedProperties() redacted}
   */
  public record Kafka(
      String transport,
      String bootstrap,
      String topic,
      String groupId,
      int partitions,
      int replicationFactor,
      Map<String, String> properties) {
    /** The prefix of the pass-through settings: {@code kafka.properties.sasl.mechanism}. */
    public static final String PROPERTIES_PREFIX = "kafka.properties.";

    /** Client settings the daemon sets itself; passing one through is refused, naming this. */
    static final Map<String, String> RESERVED =
        Map.of(
            "bootstrap.servers", "set kafka.bootstrap instead",
            "group.id", "set kafka.groupId instead",
            "key.serializer", "the daemon's records have string keys and byte values",
            "value.serializer", "the daemon's records have string keys and byte values",
            "key.deserializer", "the daemon's records have string keys and byte values",
            "value.deserializer", "the daemon's records have string keys and byte values",
            "enable.auto.commit", "the workers commit what they applied, by hand",
            "enable.idempotence", "the relay's producers are always idempotent",
            "acks", "the relay's producers always wait for acks=all");

    public Kafka {
      properties = Map.copyOf(new java.util.TreeMap<>(properties));
    }

    /** Without pass-through client settings. */
    public Kafka(
        String transport,
        String bootstrap,
        String topic,
        String groupId,
        int partitions,
        int replicationFactor) {
      this(transport, bootstrap, topic, groupId, partitions, replicationFactor, Map.of());
    }

    /** True when events travel through Kafka instead of a Redis stream. */
    public boolean enabled() {
      return "kafka".equals(transport);
    }

    /** The pass-through settings as a Kafka client takes them. */
    public Map<String, Object> clientProperties() {
      return new java.util.HashMap<>(properties);
    }

    /**
     * True for a setting whose value is a secret: passwords ({@code ssl.truststore.password}),
     * {@code sasl.jaas.config} (it holds the password), keys and tokens.
     */
    public static boolean isSecret(String name) {
      String n = name.toLowerCase(java.util.Locale.ROOT);
      return n.contains("password")
          || n.contains("jaas")
          || n.contains("secret")
          || n.contains("token")
          || n.endsWith(".key")
          || n.contains("keystore.key")
          || n.contains("credentials");
    }

    /** The pass-through settings with every secret's value replaced by {@code [hidden]}. */
    public Map<String, String> redactedProperties() {
      Map<String, String> out = new java.util.TreeMap<>();
      properties.forEach((k, v) -> out.put(k, isSecret(k) ? "[hidden]" : v));
      return out;
    }

    /** Like the record's, with {@link #redactedProperties()}: a logged config leaks no secret. */
    @Override
    public String toString() {
      return "Kafka[transport="
          + transport
          + ", bootstrap="
          + bootstrap
          + ", topic="
          + topic
          + ", groupId="
          + groupId
          + ", partitions="
          + partitions
          + ", replicationFactor="
          + replicationFactor
          + ", properties="
          + redactedProperties()
          + "]";
    }
  }

  /** Stream trimming and Redis data-loss recovery, run by the relay. */
  public record Recovery(Duration trimInterval, Duration replayWindow, Duration checkInterval) {}

  /** Where the outbox lives. */
  public record Postgres(
      String url, String user, String password, String schema, String table, int poolSize) {
    /** True when a URL was configured. */
    public boolean configured() {
      return !url.isEmpty();
    }

    /** The JDBC URL, converting a libpq-style {@code postgresql://user:pass@host/db} URL. */
    public String jdbcUrl() {
      return toJdbc(url);
    }

    /** The outbox database's dialect, picked by the URL's scheme. */
    public dev.invalidator.outbox.OutboxDialect dialect() {
      return dev.invalidator.outbox.OutboxDialect.forJdbcUrl(jdbcUrl());
    }

    /** The URL with any password masked, for logs. */
    public String maskedUrl() {
      return mask(url);
    }

    /** Never prints the password, in the URL or on its own. */
    @Override
    public String toString() {
      return "Postgres[url="
          + maskedUrl()
          + ", user="
          + user
          + ", password="
          + (password == null || password.isEmpty() ? "" : "****")
          + ", schema="
          + schema
          + ", table="
          + table
          + ", poolSize="
          + poolSize
          + "]";
    }
  }

  /** Where the stream and the cache live. */
  public record Redis(String url, String prefix, boolean cluster) {
    public boolean configured() {
      return !url.isEmpty();
    }

    public String maskedUrl() {
      return mask(url);
    }

    public KeyScheme keyScheme() {
      return new KeyScheme(prefix);
    }

    /** Never prints the password in the URL. */
    @Override
    public String toString() {
      return "Redis[url=" + maskedUrl() + ", prefix=" + prefix + ", cluster=" + cluster + "]";
    }
  }

  /** The polling relay. */
  public record Relay(
      int batchSize,
      int maxBatchSize,
      int concurrency,
      Duration pollInterval,
      Duration retention,
      Duration cleanupInterval,
      String mode,
      String cdcSlot,
      String cdcPublication,
      Duration cdcHeartbeatInterval) {
    /** True when change data capture (Debezium) relays instead of the polling relay. */
    public boolean cdc() {
      return "cdc".equals(mode);
    }
  }

  /** The stream workers. */
  public record Worker(
      int threads,
      String group,
      int batchSize,
      Duration block,
      Duration claimMinIdle,
      Duration claimInterval,
      int maxDeliveries,
      Duration retryInitial,
      Duration retryMax,
      java.util.Set<String> eventTypes,
      Duration breakerOpenWait) {
    public InvalidationWorker.Options options() {
      return InvalidationWorker.Options.builder()
          .batchSize(batchSize)
          .block(block)
          .claimMinIdle(claimMinIdle)
          .claimInterval(claimInterval)
          .maxDeliveries(maxDeliveries)
          .retry(
              new Backoff(retryInitial, retryMax),
              InvalidationWorker.Options.DEFAULT_RETRY_INTERVAL)
          .eventTypes(eventTypes)
          .breakerOpenWait(breakerOpenWait)
          .build();
    }
  }

  /** Cache entry and fence lifetimes shared by CacheClient and the Redis target. */
  public record Cache(Duration entryTtl, Duration fenceTtl, Duration fillDeadline) {}

  /** Tag walks. */
  public record Tags(int walkBatchSize) {}

  /** Near-cache fan-out: channels (0 = off) and heartbeat interval. */
  public record NearCache(int channels, Duration heartbeatInterval) {}

  /** The admin HTTP server. */
  public record Admin(int port, String bind, String token) {
    /** True when dead-letter redrive and drop are allowed over HTTP. */
    public boolean tokenConfigured() {
      return !token.isEmpty();
    }

    @Override
    public String toString() {
      return "Admin[port="
          + port
          + ", bind="
          + bind
          + ", token="
          + (token.isEmpty() ? "" : "****")
          + "]";
    }
  }

  /** Metrics sampling and the tenants with their own staleness series. */
  public record Observability(
      java.util.List<String> tenants, Duration sampleInterval, Duration stuckAfter) {
    /** The series that holds the maximum over every tenant not listed. */
    public static final String OTHER = "other";

    public Observability {
      tenants = java.util.List.copyOf(tenants);
    }
  }

  /**
   * The consistency observer (README "Consistency observer").
   *
   * @param queries per aggregate type, SQL returning the row's version, parameters tenant and id
   */
  public record Observer(
      boolean enabled,
      double sampleRate,
      int entrySamples,
      java.util.List<Duration> grace,
      Map<String, String> queries,
      double maxDbReadsPerSecond,
      Duration window) {
    public Observer {
      grace = java.util.List.copyOf(grace);
      queries = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(queries));
    }
  }

  static InvalidatorConfig from(Map<String, String> v) {
    Reader r = new Reader(v);
    String databaseUrl = r.str("database.url");
    String postgresUrl = r.str("postgres.url");
    if (!databaseUrl.isEmpty() && !postgresUrl.isEmpty() && !databaseUrl.equals(postgresUrl)) {
      throw new ConfigException(
          "database.url",
          "and postgres.url (its alias) name different databases; set only database.url");
    }
    Postgres pg =
        new Postgres(
            databaseUrl.isEmpty() ? postgresUrl : databaseUrl,
            r.str("postgres.user"),
            r.str("postgres.password"),
            r.identifier("postgres.schema"),
            r.identifier("postgres.table"),
            r.integer("postgres.poolSize", 1, 200));
    if (pg.configured()) {
      r.check(databaseUrl.isEmpty() ? "postgres.url" : "database.url", () -> toJdbc(pg.url()));
    }
    Redis redis = new Redis(r.str("redis.url"), r.str("redis.prefix"), r.bool("redis.cluster"));
    r.check("redis.prefix", redis::keyScheme);
    if (redis.configured() && redis.cluster()) {
      r.check("redis.url", () -> RedisClusterClients.seeds("redis.url", redis.url()));
    } else if (redis.configured()) {
      r.check(
          "redis.url",
          () -> {
            URI u = URI.create(redis.url());
            if (!"redis".equals(u.getScheme()) && !"rediss".equals(u.getScheme())) {
              throw new IllegalArgumentException("must start with redis:// or rediss://");
            }
            return u;
          });
    }
    Relay relay =
        new Relay(
            r.integer("relay.batchSize", 1, 10_000),
            r.integer("relay.maxBatchSize", 1, 10_000),
            r.integer("relay.concurrency", 1, 16),
            r.duration("relay.pollInterval"),
            r.duration("relay.retention"),
            r.duration("relay.cleanupInterval"),
            r.str("relay.mode").toLowerCase(java.util.Locale.ROOT),
            r.str("relay.cdc.slot"),
            r.str("relay.cdc.publication"),
            r.duration("relay.cdc.heartbeatInterval"));
    if (!relay.mode().equals("polling") && !relay.mode().equals("cdc")) {
      throw new ConfigException("relay.mode", "'" + relay.mode() + "' must be polling or cdc");
    }
    if (relay.mode().equals("cdc")
        && pg.configured()
        && pg.dialect() != dev.invalidator.outbox.OutboxDialect.POSTGRESQL) {
      throw new ConfigException(
          "relay.mode",
          "cdc reads PostgreSQL's WAL; the outbox database is "
              + pg.dialect()
              + ", use relay.mode: polling");
    }
    Worker worker =
        new Worker(
            r.integer("worker.threads", 1, 64),
            r.identifier("worker.group"),
            r.integer("worker.batchSize", 1, 10_000),
            r.duration("worker.block"),
            r.duration("worker.claimMinIdle"),
            r.duration("worker.claimInterval"),
            r.integer("worker.maxDeliveries", 1, 1_000),
            r.duration("worker.retryInitial"),
            r.duration("worker.retryMax"),
            r.eventTypes("worker.eventTypes"),
            r.duration("worker.breakerOpenWait"));
    if (worker.retryMax().compareTo(worker.retryInitial()) < 0) {
      throw new ConfigException("worker.retryMax", "must be at least worker.retryInitial");
    }
    Recovery recovery =
        new Recovery(
            r.duration("stream.trimInterval"),
            r.duration("recovery.replayWindow"),
            r.duration("recovery.checkInterval"));
    if (recovery.replayWindow().compareTo(relay.retention()) > 0) {
      throw new ConfigException(
          "recovery.replayWindow",
          "must not exceed relay.retention: rows older than the retention are gone");
    }
    Cache cache =
        new Cache(
            r.duration("cache.entryTtl"),
            r.duration("cache.fenceTtl"),
            r.duration("cache.fillDeadline"));
    try {
      CacheClient.checkFenceTtl(cache.entryTtl(), cache.fillDeadline(), cache.fenceTtl());
    } catch (IllegalArgumentException e) {
      throw new ConfigException("cache.fenceTtl", e.getMessage());
    }
    if (worker.block().compareTo(worker.claimMinIdle()) >= 0) {
      throw new ConfigException("worker.claimMinIdle", "must be longer than worker.block");
    }
    Tags tags = new Tags(r.integer("tags.walkBatchSize", 1, 100_000));
    NearCache near =
        new NearCache(
            r.integer("nearCache.channels", 0, 1024), r.duration("nearCache.heartbeatInterval"));
    Admin admin =
        new Admin(r.integer("admin.port", 0, 65_535), r.str("admin.bind"), r.str("admin.token"));
    r.check(
        "admin.bind",
        () -> {
          if (admin.bind().isEmpty() || !admin.bind().matches("[A-Za-z0-9.:\\[\\]-]+")) {
            throw new IllegalArgumentException(
                "'" + admin.bind() + "' is not a host name or IP address");
          }
          return admin;
        });
    Observability observability =
        new Observability(
            r.tenants("observability.tenants"),
            r.duration("observability.sampleInterval"),
            r.duration("observability.stuckAfter"));
    TargetsConfig targets =
        new TargetsConfig(
            new TargetsConfig.Cdn(
                r.str("targets.cdn.provider"),
                r.str("targets.cdn.endpoint"),
                r.str("targets.cdn.service"),
                r.str("targets.cdn.network"),
                r.str("targets.cdn.token"),
                r.str("targets.cdn.akamai.clientToken"),
                r.str("targets.cdn.akamai.clientSecret"),
                r.str("targets.cdn.akamai.accessToken"),
                r.str("targets.cdn.tagTemplate"),
                r.bool("targets.cdn.softPurge"),
                r.decimal("targets.cdn.rateLimit")),
            new TargetsConfig.Webhook(
                r.str("targets.webhook.url"),
                r.str("targets.webhook.secret"),
                r.decimal("targets.webhook.rateLimit")),
            r.duration("targets.idempotencyTtl"),
            r.bool("targets.cdn.everyEvent"));
    if (targets.cdn().configured()) {
      r.check("targets.cdn.provider", () -> CdnProvider.fromLabel(targets.cdn().provider()));
      validate("targets.cdn", "targets.cdn.provider", () -> targets.cdn().builder().build());
    }
    if (targets.webhook().configured()) {
      validate("targets.webhook", "targets.webhook.url", () -> targets.webhook().builder().build());
    }
    Observer observer =
        new Observer(
            r.bool("observer.enabled"),
            r.fraction("observer.sampleRate"),
            r.integer("observer.entrySamples", 0, 1000),
            r.durations("observer.grace"),
            r.queries("observer.queries"),
            r.decimal("observer.maxDbReadsPerSecond"),
            r.duration("observer.window"));
    if (observer.enabled() && observer.queries().isEmpty()) {
      throw new ConfigException(
          "observer.queries",
          "is required when observer.enabled is true: the observer needs each aggregate type's"
              + " version query");
    }
    Duration longestGrace = observer.grace().get(observer.grace().size() - 1);
    if (observer.window().compareTo(longestGrace) < 0) {
      throw new ConfigException("observer.window", "must be at least the longest observer.grace");
    }
    Kafka kafka = kafka(r, redis, worker);
    WorkflowsConfig workflows =
        new WorkflowsConfig(
            r.str("workflows.definitions"),
            r.str("workflows.schema"),
            r.str("workflows.executorId"),
            r.integer("workflows.concurrency", 1, 1000));
    workflows.validate(targets);
    return new InvalidatorConfig(
        pg,
        redis,
        relay,
        worker,
        cache,
        tags,
        near,
        admin,
        observability,
        recovery,
        targets,
        observer,
        kafka,
        workflows);
  }

  /** The Kafka consumer's default {@code max.poll.interval.ms}. */
  private static final Duration KAFKA_MAX_POLL_INTERVAL = Duration.ofMinutes(5);

  private static final java.util.regex.Pattern KAFKA_NAME =
      java.util.regex.Pattern.compile("[A-Za-z0-9._-]{1,200}");

  private static Kafka kafka(Reader r, Redis redis, Worker worker) {
    String transport = r.str("transport").toLowerCase(java.util.Locale.ROOT);
    if (!transport.equals("redis") && !transport.equals("kafka")) {
      throw new ConfigException("transport", "'" + transport + "' must be redis or kafka");
    }
    String topic = r.str("kafka.topic");
    if (topic.isEmpty()) {
      topic = redis.keyScheme().stream().replace(':', '.');
    }
    String group = r.str("kafka.groupId");
    if (group.isEmpty()) {
      group = worker.group();
    }
    Kafka kafka =
        new Kafka(
            transport,
            r.str("kafka.bootstrap"),
            topic,
            group,
            r.integer("kafka.partitions", 1, 10_000),
            r.integer("kafka.replicationFactor", -1, 32),
            kafkaProperties(r));
    if (kafka.replicationFactor() == 0) {
      throw new ConfigException("kafka.replicationFactor", "must be -1 (broker default) or 1..32");
    }
    if (!KAFKA_NAME.matcher(kafka.topic()).matches()) {
      throw new ConfigException(
          "kafka.topic", "'" + kafka.topic() + "' must be 1-200 letters, digits, '.', '_' or '-'");
    }
    if (!KAFKA_NAME.matcher(kafka.groupId()).matches()) {
      throw new ConfigException(
          "kafka.groupId",
          "'" + kafka.groupId() + "' must be 1-200 letters, digits, '.', '_' or '-'");
    }
    if (kafka.enabled()) {
      if (worker.breakerOpenWait().compareTo(KAFKA_MAX_POLL_INTERVAL) >= 0) {
        throw new ConfigException(
            "worker.breakerOpenWait",
            "must be shorter than 5m when transport is kafka: a worker whose breaker is open does"
                + " not poll, and Kafka expels a member that has not polled for"
                + " max.poll.interval.ms (5m)");
      }
      if (kafka.bootstrap().isEmpty()) {
        throw new ConfigException(
            "kafka.bootstrap", "is required when transport is kafka (or pass --kafka-bootstrap)");
      }
      for (String server : kafka.bootstrap().split(",")) {
        if (!server.trim().matches("[^\\s:/]+:[0-9]{1,5}")) {
          throw new ConfigException(
              "kafka.bootstrap",
              "'" + server.trim() + "' is not host:port (a comma-separated list of them)");
        }
      }
    }
    return kafka;
  }

  private static final java.util.regex.Pattern KAFKA_PROPERTY =
      java.util.regex.Pattern.compile("[a-z0-9]+([.-][a-z0-9]+)*");

  /**
   * The {@code kafka.properties.<name>} settings; a name that is not a Kafka setting's shape, or
   * one the daemon sets itself, is refused naming it (never its value: it may be a secret).
   */
  private static Map<String, String> kafkaProperties(Reader r) {
    Map<String, String> out = new java.util.TreeMap<>();
    for (Map.Entry<String, String> e : r.withPrefix(Kafka.PROPERTIES_PREFIX).entrySet()) {
      String name = e.getKey().substring(Kafka.PROPERTIES_PREFIX.length());
      if (!KAFKA_PROPERTY.matcher(name).matches()) {
        throw new ConfigException(
            e.getKey(),
            "'"
                + name
                + "' is not a Kafka client setting name (lower-case words joined by '.', such as"
                + " security.protocol)");
      }
      String reserved = Kafka.RESERVED.get(name);
      if (reserved != null) {
        throw new ConfigException(e.getKey(), "is set by the daemon: " + reserved);
      }
      String value = e.getValue() == null ? "" : e.getValue().trim();
      if (value.isEmpty()) {
        throw new ConfigException(e.getKey(), "is empty (remove it to use the client's default)");
      }
      out.put(name, value);
    }
    return out;
  }

  /** Builds a target once to check its settings with the library's own rules, then drops it. */
  private static void validate(
      String prefix, String fallback, java.util.function.Supplier<? extends Object> build) {
    try {
      build.get();
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new ConfigException(
          TargetsConfig.settingOf(prefix, e.getMessage(), fallback),
          String.valueOf(e.getMessage()));
    }
  }

  /**
   * Converts {@code postgres://user:pass@host:port/db?x=y} to a JDBC URL; JDBC URLs pass through.
   */
  static String toJdbc(String url) {
    if (url.startsWith("jdbc:postgresql:")
        || url.startsWith("jdbc:mysql:")
        || url.startsWith("jdbc:mariadb:")) {
      return url;
    }
    if (!url.startsWith("postgres://") && !url.startsWith("postgresql://")) {
      throw new IllegalArgumentException(
          "must start with jdbc:postgresql:, jdbc:mysql:, jdbc:mariadb:, postgres:// or"
              + " postgresql://");
    }
    URI u = URI.create(url);
    StringBuilder b = new StringBuilder("jdbc:postgresql://").append(u.getHost());
    if (u.getPort() > 0) {
      b.append(':').append(u.getPort());
    }
    b.append(u.getRawPath() == null || u.getRawPath().isEmpty() ? "/postgres" : u.getRawPath());
    String sep = "?";
    if (u.getRawQuery() != null) {
      b.append('?').append(u.getRawQuery());
      sep = "&";
    }
    if (u.getRawUserInfo() != null) {
      String[] parts = u.getRawUserInfo().split(":", 2);
      b.append(sep).append("user=").append(parts[0]);
      if (parts.length > 1) {
        b.append("&password=").append(parts[1]);
      }
    }
    return b.toString();
  }

  /** Masks passwords in URLs of any of the supported forms. */
  public static String mask(String url) {
    if (url == null) {
      return null;
    }
    String masked = url.replaceAll("(?i)(password=)[^&;]*", "$1****");
    return masked
        .replaceAll("(://[^:/@]*:)[^@/]*@", "$1****@")
        .replaceAll("(://)[^:/@]+@", "$1****@");
  }

  private static final class Reader {
    private final Map<String, String> values;

    Reader(Map<String, String> values) {
      this.values = values;
    }

    /** The values whose key starts with {@code prefix}. */
    Map<String, String> withPrefix(String prefix) {
      Map<String, String> out = new java.util.TreeMap<>();
      values.forEach(
          (k, v) -> {
            if (k.startsWith(prefix)) {
              out.put(k, v);
            }
          });
      return out;
    }

    String str(String key) {
      String s = values.get(key);
      return s == null ? "" : s.trim();
    }

    int integer(String key, int min, int max) {
      String s = str(key);
      int n;
      try {
        n = Integer.parseInt(s);
      } catch (NumberFormatException e) {
        throw new ConfigException(key, "'" + s + "' is not a whole number");
      }
      if (n < min || n > max) {
        throw new ConfigException(key, n + " is out of range " + min + ".." + max);
      }
      return n;
    }

    boolean bool(String key) {
      String s = str(key).toLowerCase(java.util.Locale.ROOT);
      return switch (s) {
        case "true", "yes", "on", "1" -> true;
        case "false", "no", "off", "0", "" -> false;
        default -> throw new ConfigException(key, "'" + s + "' is not true or false");
      };
    }

    double decimal(String key) {
      String s = str(key);
      double d;
      try {
        d = Double.parseDouble(s);
      } catch (NumberFormatException e) {
        throw new ConfigException(key, "'" + s + "' is not a number");
      }
      if (!(d > 0) || Double.isInfinite(d)) {
        throw new ConfigException(key, "must be a positive number, got " + s);
      }
      return d;
    }

    Duration duration(String key) {
      Duration d = Durations.parse(key, str(key));
      if (d.isZero() || d.isNegative()) {
        throw new ConfigException(key, "must be positive");
      }
      return d;
    }

    double fraction(String key) {
      String s = str(key);
      double d;
      try {
        d = Double.parseDouble(s);
      } catch (NumberFormatException e) {
        throw new ConfigException(key, "'" + s + "' is not a number");
      }
      if (!(d > 0 && d <= 1)) {
        throw new ConfigException(key, "must be in (0, 1], got " + s);
      }
      return d;
    }

    /** Distinct positive durations, sorted, at least one, at most 8. */
    java.util.List<Duration> durations(String key) {
      java.util.TreeSet<Duration> out = new java.util.TreeSet<>();
      for (String part : str(key).split(",")) {
        String t = part.trim();
        if (t.isEmpty()) {
          continue;
        }
        Duration d = Durations.parse(key, t);
        if (d.isZero() || d.isNegative()) {
          throw new ConfigException(key, "'" + t + "' must be positive");
        }
        out.add(d);
      }
      if (out.isEmpty() || out.size() > 8) {
        throw new ConfigException(key, "must list 1 to 8 durations, e.g. 1s,10s,60s");
      }
      return java.util.List.copyOf(out);
    }

    /**
     * {@code type=SQL} entries separated by {@code ;}: each SQL must have exactly two {@code ?}
     * (tenant, then id) and must not be empty. The SQL itself is not logged in errors beyond its
     * type: it is configuration, not a secret, but may be long.
     */
    Map<String, String> queries(String key) {
      Map<String, String> out = new java.util.LinkedHashMap<>();
      for (String part : str(key).split(";")) {
        String entry = part.trim();
        if (entry.isEmpty()) {
          continue;
        }
        int eq = entry.indexOf('=');
        if (eq < 1) {
          throw new ConfigException(
              key,
              "'" + entry + "' must be type=SELECT ... (e.g. account=SELECT version FROM ...)");
        }
        String type = entry.substring(0, eq).trim();
        String sql = entry.substring(eq + 1).trim();
        check(key, () -> dev.invalidator.core.Identifiers.require("aggregate_type", type, 128));
        long params = sql.chars().filter(c -> c == '?').count();
        if (params != 2) {
          throw new ConfigException(
              key,
              "the query of type "
                  + type
                  + " must have exactly two ? parameters (tenant, then id), found "
                  + params);
        }
        if (out.put(type, sql) != null) {
          throw new ConfigException(key, "type " + type + " is listed twice");
        }
      }
      return out;
    }

    String identifier(String key) {
      String s = str(key);
      if (!s.matches("[a-z_][a-z0-9_]{0,62}")) {
        throw new ConfigException(key, "'" + s + "' must match [a-z_][a-z0-9_]{0,62}");
      }
      return s;
    }

    java.util.List<String> tenants(String key) {
      java.util.List<String> out = new java.util.ArrayList<>();
      for (String part : str(key).split(",")) {
        String t = part.trim();
        if (t.isEmpty()) {
          continue;
        }
        check(key, () -> dev.invalidator.core.Identifiers.tenant(t));
        if (t.equals(Observability.OTHER)) {
          throw new ConfigException(
              key, "'other' is reserved for the series of every tenant not listed");
        }
        if (!out.contains(t)) {
          out.add(t);
        }
      }
      if (out.size() > 1000) {
        throw new ConfigException(key, "lists " + out.size() + " tenants, at most 1000");
      }
      return out;
    }

    java.util.Set<String> eventTypes(String key) {
      java.util.Set<String> out = new java.util.TreeSet<>();
      for (String t : str(key).split(",")) {
        String type = t.trim();
        if (type.isEmpty()) {
          continue;
        }
        if (!type.matches("[A-Za-z0-9._-]{1,128}")) {
          throw new ConfigException(
              key, "'" + type + "' is not an event type (letters, digits, '.', '_' or '-')");
        }
        out.add(type);
      }
      return out;
    }

    <T> T check(String key, java.util.function.Supplier<T> s) {
      try {
        return s.get();
      } catch (InvalidEventException e) {
        throw new ConfigException(key, e.getMessage());
      } catch (IllegalArgumentException e) {
        throw new ConfigException(key, e.getMessage());
      }
    }
  }
}
