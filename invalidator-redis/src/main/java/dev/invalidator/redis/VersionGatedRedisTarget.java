package dev.invalidator.redis;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Target;
import dev.invalidator.core.TargetException;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis cache tier as a {@link Target}: applies each event to its aggregate's fence and view
 * entries with one Lua script ({@code invalidate.lua}, see its header for the protocol).
 *
 * <p>Design notes. Each event is one script call on one aggregate, so each is atomic and all keys
 * it touches share the aggregate's hash tag (one cluster slot). The scripts of a batch are sent
 * without waiting for replies (Lettuce's asynchronous API pipelines them; the shared connection's
 * auto-flush is left alone because other users share it), then all replies are awaited. A script
 * that fails fails only its event ({@link ApplyResult#failed}); when no event got any reply from
 * the server (the connection is down or timed out) the whole batch throws a retryable {@link
 * InvalidatorException}. Order inside a batch does not matter: the script is a max-register on the
 * version (G4). Tenant isolation (G5) holds because every key comes from {@link KeyScheme} with the
 * event's validated aggregate, and is checked once more before use.
 *
 * <p>Tags: after the batch's scripts, every event that names tags in its payload has each tag set
 * walked by {@link TagWalker} (generation raised, members unlinked in slot-grouped pipelined
 * batches, removed from the set). A walk failure fails only its event, retryably. Near caches: with
 * {@link Options#nearCacheChannels()} above zero, {@code invalidate.lua} publishes every applied
 * invalidation on the tenant's channel with a sequence number, and each finished tag walk publishes
 * one message too.
 */
public final class VersionGatedRedisTarget implements Target, AutoCloseable {
  /** This target's name in metrics and dead letters. */
  public static final String NAME = "redis";

  /**
   * The default fence TTL: the default entry TTL of {@link CacheClient} plus five minutes. The
   * fence must outlive every entry and every fill that could still race it.
   */
  public static final Duration DEFAULT_FENCE_TTL =
      CacheClient.DEFAULT_ENTRY_TTL.plus(CacheClient.DEFAULT_FENCE_MARGIN);

  private static final Logger log = LoggerFactory.getLogger(VersionGatedRedisTarget.class);

  /**
   * Tag and near-cache settings.
   *
   * @param tagBatchSize members per {@code SSCAN} page of a tag walk (a hint to Redis); {@code >=
   *     1}
   * @param nearCacheChannels Pub/Sub channels near-cache messages are sharded over by tenant; 0
   *     publishes nothing. Must equal the clients' {@link NearCacheOptions#channels()}.
   */
  public record Options(int tagBatchSize, int nearCacheChannels) {
    /** Default SSCAN page size of tag walks. */
    public static final int DEFAULT_TAG_BATCH_SIZE = 1000;

    /** Tag walks in pages of 1000, no near-cache messages. */
    public static final Options DEFAULT = new Options(DEFAULT_TAG_BATCH_SIZE, 0);

    public Options {
      if (tagBatchSize < 1 || tagBatchSize > 100_000) {
        throw new IllegalArgumentException(
            "tags.walkBatchSize must be in 1..100000, got " + tagBatchSize);
      }
      if (nearCacheChannels < 0 || nearCacheChannels > 1024) {
        throw new IllegalArgumentException(
            "nearCache.channels must be in 0..1024, got " + nearCacheChannels);
      }
    }
  }

  private final StatefulRedisConnection<String, String> connection;
  private final KeyScheme keys;
  private final Duration fenceTtl;
  private final Options options;
  private final TagWalker tags;

  /**
   * @param connection a connection with string keys and values; shared use is fine
   * @param keys the key scheme the caches were filled under
   * @param fenceTtl how long a fence lives; use the same value as {@link
   *     CacheClient.Builder#fenceTtl(Duration)}. Must be positive.
   */
  public VersionGatedRedisTarget(
      StatefulRedisConnection<String, String> connection, KeyScheme keys, Duration fenceTtl) {
    this(connection, keys, fenceTtl, Options.DEFAULT);
  }

  /**
   * @param connection a connection with string keys and values; shared use is fine
   * @param keys the key scheme the caches were filled under
   * @param fenceTtl how long a fence (and a tag generation) lives; must be positive
   * @param options tag walk and near-cache settings
   */
  public VersionGatedRedisTarget(
      StatefulRedisConnection<String, String> connection,
      KeyScheme keys,
      Duration fenceTtl,
      Options options) {
    this(connection, keys, fenceTtl, options, null);
  }

  /**
   * Like {@link #VersionGatedRedisTarget(StatefulRedisConnection, KeyScheme, Duration, Options)},
   * with a client on which the target opens one more connection of its own for tag walks: its pages
   * of UNLINK / SREM / EXISTS commands are written in one go (auto-flush off), several times faster
   * on large tag sets. {@link #close()} closes that connection.
   */
  public VersionGatedRedisTarget(
      StatefulRedisConnection<String, String> connection,
      KeyScheme keys,
      Duration fenceTtl,
      Options options,
      RedisClient walkClient) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.keys = Objects.requireNonNull(keys, "keys");
    if (fenceTtl == null || fenceTtl.toMillis() <= 0) {
      throw new IllegalArgumentException(
          "redis.fenceTtl must be a positive duration of at least 1 ms, got " + fenceTtl);
    }
    this.fenceTtl = fenceTtl;
    this.options = Objects.requireNonNull(options, "options");
    StatefulRedisConnection<String, String> batches = null;
    if (walkClient != null) {
      batches = walkClient.connect();
      batches.setAutoFlushCommands(false);
    }
    this.tags =
        new TagWalker(
            connection,
            batches,
            keys,
            fenceTtl,
            options.tagBatchSize(),
            options.nearCacheChannels());
  }

  @Override
  public String name() {
    return NAME;
  }

  /** The fence TTL this target sets. */
  public Duration fenceTtl() {
    return fenceTtl;
  }

  /**
   * Applies every event: {@link ApplyResult#APPLIED} when its script raised the fence or unlinked
   * an entry, {@link ApplyResult#STALE_SKIPPED} when the aggregate was already at this version or
   * newer, a failed result for an event whose script failed.
   *
   * @throws InvalidatorException (retryable) when Redis did not answer at all
   */
  @Override
  public List<ApplyResult> apply(List<InvalidationEvent> events) {
    if (events.isEmpty()) {
      return List.of();
    }
    RedisAsyncCommands<String, String> async = connection.async();
    List<CompletableFuture<Long>> replies = new ArrayList<>(events.size());
    for (InvalidationEvent e : events) {
      try {
        replies.add(send(async, e));
      } catch (RuntimeException ex) {
        replies.add(CompletableFuture.failedFuture(ex));
      }
    }
    try {
      RedisErrors.await(
          CompletableFuture.allOf(replies.toArray(CompletableFuture<?>[]::new))
              .handle((ignored, error) -> null),
          connection.getTimeout(),
          "invalidate.lua on " + events.size() + " aggregates");
    } catch (InvalidatorException ex) {
      throw new InvalidatorException(
          "redis target: no reply for a batch of " + events.size() + " events", true, ex);
    }
    List<ApplyResult> results = new ArrayList<>(events.size());
    Throwable connectionError = null;
    int connectionErrors = 0;
    for (int i = 0; i < events.size(); i++) {
      InvalidationEvent e = events.get(i);
      CompletableFuture<Long> reply = replies.get(i);
      try {
        long changed = reply.join();
        results.add(changed == 1L ? ApplyResult.APPLIED : ApplyResult.STALE_SKIPPED);
      } catch (RuntimeException ex) {
        Throwable cause = RedisErrors.unwrap(ex);
        if (!RedisErrors.isServerError(cause) && !(cause instanceof InvalidatorException)) {
          connectionErrors++;
          connectionError = cause;
        }
        results.add(ApplyResult.failed(failure(e, cause)));
      }
    }
    if (connectionErrors == events.size()) {
      throw RedisErrors.translate("redis target: connection failed", connectionError);
    }
    for (int i = 0; i < events.size(); i++) {
      InvalidationEvent e = events.get(i);
      if (!e.payload().tags().isEmpty() && results.get(i).succeeded()) {
        results.set(i, walkTags(e));
      }
    }
    return results;
  }

  private ApplyResult walkTags(InvalidationEvent e) {
    try {
      for (String tag : e.payload().tags()) {
        tags.walk(e.tenantId(), tag, e.eventId().toString());
      }
      return ApplyResult.APPLIED; // a walk always raises the tag generation
    } catch (RuntimeException ex) {
      Throwable cause = RedisErrors.unwrap(ex);
      log.debug("tag walk failed for event {}", e.eventId(), cause);
      return ApplyResult.failed(
          new TargetException(
              NAME,
              e.eventId().toString(),
              e.tenantId(),
              "tag walk failed: " + cause,
              RedisErrors.isRetryable(cause),
              cause));
    }
  }

  /** Closes the tag-walk connection, if this target opened one. */
  @Override
  public void close() {
    tags.close();
  }

  /**
   * Removes up to {@code sample} members of a tag set whose entry is gone (see {@link TagWalker}).
   */
  public long pruneTag(String tenant, String tag, int sample) {
    return tags.prune(tenant, tag, sample);
  }

  private CompletableFuture<Long> send(
      RedisAsyncCommands<String, String> async, InvalidationEvent e) {
    AggregateRef ref = e.aggregate();
    String fence = keys.fence(ref);
    String views = keys.views(ref);
    String viewPrefix = keys.viewPrefix(ref);
    if (!keys.belongsTo(fence, e.tenantId()) || !keys.belongsTo(viewPrefix, e.tenantId())) {
      // Unreachable with a validated AggregateRef; kept as the last line of G5.
      throw new TargetException(
          NAME, e.eventId().toString(), e.tenantId(), "key outside the tenant", false, null);
    }
    List<String> listed = e.payload().views();
    String[] args = new String[5 + listed.size()];
    args[0] = Long.toString(e.aggregateVersion());
    args[1] = Long.toString(fenceTtl.toMillis());
    args[2] = viewPrefix;
    args[3] = "";
    args[4] = e.tenantId();
    for (int i = 0; i < listed.size(); i++) {
      args[5 + i] = KeyScheme.view(listed.get(i));
    }
    String[] scriptKeys = {fence, views};
    if (options.nearCacheChannels() > 0) {
      int shard = KeyScheme.nearShard(e.tenantId(), options.nearCacheChannels());
      args[3] = keys.nearChannel(shard);
      scriptKeys = new String[] {fence, views, keys.nearSequence(shard)};
    }
    return LuaScript.INVALIDATE.callAsync(async, ScriptOutputType.INTEGER, scriptKeys, args);
  }

  private static TargetException failure(InvalidationEvent e, Throwable cause) {
    if (cause instanceof TargetException te) {
      return te;
    }
    log.debug("invalidate.lua failed for event {} ({})", e.eventId(), e.aggregate(), cause);
    return new TargetException(
        NAME,
        e.eventId().toString(),
        e.tenantId(),
        "invalidate.lua failed on " + e.aggregate() + ": " + cause,
        RedisErrors.isRetryable(cause),
        cause);
  }
}
