package dev.invalidator.server.config;

import dev.invalidator.cdc.CdcRelay;
import dev.invalidator.core.InvalidationWorker;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.TargetBreakers;
import dev.invalidator.http.CdnPurgeTarget;
import dev.invalidator.http.WebhookTarget;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.PollingRelay;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.IdempotentTarget;
import dev.invalidator.redis.NearCacheOptions;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.VersionGatedRedisTarget;
import dev.invalidator.workflows.WorkflowEngine;
import java.time.Duration;
import java.util.List;

/**
 * One configuration setting: its dotted name, default and meaning. The single list of them all. A
 * setting of a library component takes its default from that component's {@code DEFAULT_*}
 * constant, so the daemon and the library cannot disagree; only the daemon's own settings (pool,
 * admin server, observability, loop intervals) have their defaults here.
 */
public record Setting(String name, String defaultValue, String description) {

  /** Every setting, in the order the reference documentation lists them. */
  public static final List<Setting> ALL =
      List.of(
          new Setting(
              "database.url",
              "",
              "JDBC URL of the database holding the outbox; its scheme picks the database: jdbc:postgresql: (or postgresql://), jdbc:mysql:, jdbc:mariadb: (required for run; the demo starts an embedded PostgreSQL when empty)"),
          new Setting(
              "postgres.url",
              "",
              "alias of database.url, kept for existing configurations (setting both to different URLs is an error)"),
          new Setting("postgres.user", "", "database user, when not in the URL"),
          new Setting(
              "postgres.password", "", "database password, when not in the URL (never logged)"),
          new Setting("postgres.schema", OutboxTable.DEFAULT_SCHEMA, "schema of the outbox table"),
          new Setting("postgres.table", OutboxTable.DEFAULT_TABLE, "name of the outbox table"),
          new Setting("postgres.poolSize", "8", "HikariCP pool size"),
          new Setting(
              "redis.url",
              "",
              "redis:// or rediss:// URL (required for run; the demo starts an embedded Redis when empty); with redis.cluster, the seed nodes' URLs separated by commas"),
          new Setting(
              "redis.cluster",
              "false",
              "Redis Cluster: connect with Lettuce's cluster client (topology refreshed every 30 s and on MOVED/ASK/reconnects); see README \"Redis Cluster\""),
          new Setting("redis.prefix", KeyScheme.DEFAULT_PREFIX, "prefix of every Redis key"),
          new Setting(
              "relay.batchSize",
              n(PollingRelay.DEFAULT_BATCH_SIZE),
              "outbox rows claimed and published per transaction while the relay keeps up"),
          new Setting(
              "relay.maxBatchSize",
              n(PollingRelay.DEFAULT_MAX_BATCH_SIZE),
              "largest batch while the relay is behind: each full batch doubles the next, up to this"),
          new Setting(
              "relay.concurrency",
              n(PollingRelay.DEFAULT_CONCURRENCY),
              "batches relayed at once while rows are waiting (each holds a pooled connection)"),
          new Setting(
              "relay.pollInterval",
              d(PollingRelay.DEFAULT_POLL_INTERVAL),
              "fallback poll when no LISTEN/NOTIFY wake-up arrives; on MySQL/MariaDB (no notifications) the longest wait between polls while idle"),
          new Setting(
              "relay.retention",
              d(PollingRelay.DEFAULT_RETENTION),
              "how long relayed rows are kept (the replay window)"),
          new Setting(
              "relay.cleanupInterval",
              d(PollingRelay.DEFAULT_CLEANUP_INTERVAL),
              "how often rows past retention are deleted"),
          new Setting(
              "relay.mode",
              "polling",
              "polling (the outbox is queried) or cdc (its inserts are read from the WAL with Debezium; needs wal_level=logical)"),
          new Setting(
              "relay.cdc.slot",
              "",
              "cdc: replication slot name (empty: <table>_cdc_slot; dropping a relay for good needs the slot dropped too)"),
          new Setting(
              "relay.cdc.publication",
              "",
              "cdc: publication name (empty: <table>_cdc_pub, inserts of the outbox table only)"),
          new Setting(
              "relay.cdc.heartbeatInterval",
              d(CdcRelay.DEFAULT_HEARTBEAT_INTERVAL),
              "cdc: Debezium heartbeat.interval.ms; each heartbeat writes a WAL message that moves the slot on while the outbox is quiet, and keeps /health/ready's relay check fresh"),
          new Setting(
              "transport",
              "redis",
              "redis (events travel through a Redis stream) or kafka (through the topic kafka.topic; Redis stays the cache)"),
          new Setting(
              "kafka.bootstrap",
              "",
              "kafka: the cluster's bootstrap servers, host:port[,host:port...] (required when transport is kafka)"),
          new Setting(
              "kafka.topic",
              "",
              "kafka: the event topic (empty: the stream name with ':' as '.', e.g. inv.stream); dead letters go to <topic>-dlt"),
          new Setting(
              "kafka.groupId",
              "",
              "kafka: the workers' consumer group (empty: worker.group); other targets use <groupId>-<target>"),
          new Setting(
              "kafka.partitions",
              "6",
              "kafka: partitions of the event topic when the daemon creates it (an existing topic is left as it is)"),
          new Setting(
              "kafka.replicationFactor",
              "-1",
              "kafka: replication factor of the topics the daemon creates (-1: the broker's default.replication.factor)"),
          new Setting("worker.threads", "2", "worker threads (consumers) per process"),
          new Setting(
              "worker.group", RedisStreamSource.DEFAULT_GROUP, "Redis Streams consumer group"),
          new Setting(
              "worker.batchSize",
              n(InvalidationWorker.Options.DEFAULT_BATCH_SIZE),
              "entries read per XREADGROUP"),
          new Setting(
              "worker.block",
              d(InvalidationWorker.Options.DEFAULT_BLOCK),
              "how long XREADGROUP blocks when idle"),
          new Setting(
              "worker.claimMinIdle",
              d(InvalidationWorker.Options.DEFAULT_CLAIM_MIN_IDLE),
              "idle time after which another consumer takes over a pending entry (longer than the slowest apply)"),
          new Setting(
              "worker.claimInterval",
              d(InvalidationWorker.Options.DEFAULT_CLAIM_INTERVAL),
              "how often each worker looks for abandoned entries"),
          new Setting(
              "worker.maxDeliveries",
              n(InvalidationWorker.Options.DEFAULT_MAX_DELIVERIES),
              "deliveries after which a failing entry goes to the dead letters"),
          new Setting(
              "worker.retryInitial",
              d(InvalidationWorker.Options.DEFAULT_RETRY_BACKOFF.initial()),
              "backoff ceiling before the first retry of a failed entry (doubles per delivery, full jitter)"),
          new Setting(
              "worker.retryMax",
              d(InvalidationWorker.Options.DEFAULT_RETRY_BACKOFF.max()),
              "largest backoff between retries of a failed entry"),
          new Setting(
              "worker.eventTypes",
              "",
              "comma-separated allowed event types; other types are dead-lettered as unknown_event_type (empty: any well-formed type; tag.invalidate and tenant.flush always pass)"),
          new Setting(
              "worker.breakerOpenWait",
              d(TargetBreakers.DEFAULT_OPEN_WAIT),
              "how long a target's open circuit breaker waits before a probe batch"),
          new Setting(
              "stream.trimInterval",
              "1m",
              "how often the relay trims the stream below every group's oldest pending and unread entry"),
          new Setting(
              "recovery.replayWindow",
              "5m",
              "when Redis lost the stream, outbox rows relayed this long before the loss are published again"),
          new Setting(
              "recovery.checkInterval", "5s", "how often the relay checks Redis for lost data"),
          new Setting(
              "cache.entryTtl",
              d(CacheClient.DEFAULT_ENTRY_TTL),
              "TTL of cache entries written by CacheClient fills"),
          new Setting(
              "cache.fenceTtl",
              d(VersionGatedRedisTarget.DEFAULT_FENCE_TTL),
              "TTL of aggregate fences; must exceed cache.entryTtl + cache.fillDeadline"),
          new Setting(
              "cache.fillDeadline",
              d(CacheClient.DEFAULT_FILL_DEADLINE),
              "a fill whose database read took longer is dropped"),
          new Setting(
              "tags.walkBatchSize",
              n(VersionGatedRedisTarget.Options.DEFAULT_TAG_BATCH_SIZE),
              "tag-set members per SSCAN page when a tag or tenant flush is applied"),
          new Setting(
              "nearCache.channels",
              n(NearCacheOptions.DEFAULT_CHANNELS),
              "Pub/Sub channels near-cache invalidations are sharded over by tenant (0 = publish none); clients must use the same number"),
          new Setting(
              "nearCache.heartbeatInterval",
              "1s",
              "how often the workers publish near-cache heartbeats; clients' heartbeat timeout must be longer"),
          new Setting(
              "targets.cdn.provider",
              "",
              "CDN purged by the events' cdn_tags: fastly, cloudflare or akamai (empty: no CDN target)"),
          new Setting(
              "targets.cdn.endpoint",
              "",
              "CDN API base URL (empty: the provider's public API; Akamai: https://<host> of the credentials)"),
          new Setting("targets.cdn.service", "", "Fastly service id or Cloudflare zone id"),
          new Setting(
              "targets.cdn.network",
              CdnPurgeTarget.Builder.DEFAULT_NETWORK,
              "Akamai network: production or staging"),
          new Setting("targets.cdn.token", "", "Fastly or Cloudflare API token (never logged)"),
          new Setting("targets.cdn.akamai.clientToken", "", "Akamai EdgeGrid client token"),
          new Setting(
              "targets.cdn.akamai.clientSecret",
              "",
              "Akamai EdgeGrid client secret (never logged)"),
          new Setting("targets.cdn.akamai.accessToken", "", "Akamai EdgeGrid access token"),
          new Setting(
              "targets.cdn.tagTemplate",
              "",
              "purged tag built from an event's tenant and each cdn_tag; must contain {tenant} (empty: {tenant}:{tag}, Akamai {tenant}|{tag})"),
          new Setting(
              "targets.cdn.softPurge", "false", "Fastly soft purge (mark stale instead of delete)"),
          new Setting(
              "targets.cdn.rateLimit",
              n(CdnPurgeTarget.Builder.DEFAULT_RATE_LIMIT),
              "purge requests per second at most (a 429 slows it further)"),
          new Setting(
              "targets.cdn.everyEvent",
              "true",
              "purge every event's cdn_tags (a consumer group of its own); false: only purge-cdn workflow steps purge the CDN"),
          new Setting(
              "targets.webhook.url",
              "",
              "URL every event is POSTed to with Standard Webhooks headers (empty: no webhook target; path and query never logged)"),
          new Setting(
              "targets.webhook.secret",
              "",
              "webhook signing secret, whsec_<base64> (never logged)"),
          new Setting(
              "targets.webhook.rateLimit",
              n(WebhookTarget.Builder.DEFAULT_RATE_LIMIT),
              "webhook POSTs per second at most"),
          new Setting(
              "targets.idempotencyTtl",
              d(IdempotentTarget.DEFAULT_TTL),
              "how long a CDN or webhook target remembers an event it sent, so a redelivery is not sent again"),
          new Setting(
              "workflows.definitions",
              "",
              "durable workflows started by event type (a YAML list in the file, its JSON in the environment; empty: none); see Workflows"),
          new Setting(
              "workflows.schema",
              WorkflowEngine.Builder.DEFAULT_SCHEMA,
              "PostgreSQL schema of the workflow engine's (DBOS Transact's) tables, in the outbox's database"),
          new Setting(
              "workflows.executorId",
              WorkflowEngine.Builder.DEFAULT_EXECUTOR_ID,
              "this daemon's executor id: a restarted daemon resumes the unfinished workflows of its id; give each daemon its own, stable across restarts"),
          new Setting(
              "workflows.concurrency",
              Integer.toString(WorkflowEngine.Builder.DEFAULT_CONCURRENCY),
              "workflows one daemon runs at once"),
          new Setting(
              "admin.port",
              "9464",
              "port of the admin HTTP server (status page, /metrics, health, /api); 0 picks a free port"),
          new Setting(
              "admin.bind",
              "127.0.0.1",
              "address the admin HTTP server listens on (0.0.0.0 for every interface)"),
          new Setting(
              "admin.token",
              "",
              "bearer token that allows dead-letter redrive and drop over HTTP; empty disables them (never logged)"),
          new Setting(
              "observability.tenants",
              "",
              "comma-separated tenants with their own tenant_staleness_seconds series; the rest share the series other"),
          new Setting(
              "observability.sampleInterval",
              "5s",
              "how often outbox, stream, dead-letter and staleness gauges are queried"),
          new Setting(
              "observability.stuckAfter",
              "2m",
              "a relay or worker loop that has not completed an iteration for this long makes /health/ready fail"),
          new Setting(
              "observer.enabled",
              "false",
              "run the consistency observer in worker processes (needs observer.queries)"),
          new Setting(
              "observer.sampleRate",
              "0.01",
              "fraction (0..1] of applied events whose aggregate the observer checks after each grace period"),
          new Setting(
              "observer.entrySamples",
              "1",
              "cache entries picked at random (RANDOMKEY) and checked per second, besides the events (0 = none)"),
          new Setting(
              "observer.grace",
              "1s,10s,60s",
              "comma-separated grace periods T: a check reads the cache and the database T after the commit"),
          new Setting(
              "observer.queries",
              "",
              "per aggregate type, the query that returns a row's current version, two ? for tenant and id: type=SELECT ...; other=SELECT ..."),
          new Setting(
              "observer.maxDbReadsPerSecond",
              "20",
              "database reads per second the observer makes at most; checks beyond are dropped and counted"),
          new Setting(
              "observer.window",
              "5m",
              "sliding window of the consistency ratio and nines (gauges, /api/consistency, status page)"));

  private static String n(long value) {
    return Long.toString(value);
  }

  private static String n(double value) {
    return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
  }

  private static String d(Duration value) {
    return Durations.format(value);
  }

  /** The environment variable that overrides this setting. */
  public String envName() {
    return ConfigLoader.envName(name);
  }
}
