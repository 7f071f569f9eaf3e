package dev.invalidator.redis;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Target;
import dev.invalidator.core.TargetException;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
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
 * <p>Design notes. A batch is one {@code invalidate.lua} call on a standalone server: each event's
 * part touches only its own aggregate's keys (one hash tag), and one command per batch instead of
 * one per event removed the largest single cost of applying. The script runs each event's part in
 * {@code pcall}, so an event that fails fails only itself ({@link ApplyResult#failed}, with its
 * server error) and the others are applied and counted as if sent alone. When the call as a whole
 * fails with a server error (busy, out of memory), the events are sent again one per call
 * (pipelined), each failing or succeeding on its own; when Redis does not answer at all the whole
 * batch throws a retryable {@link InvalidatorException}. Order inside a batch does not matter: the
 * script is a max-register on the version (G4). Tenant isolation (G5) holds because every key comes
 * from {@link KeyScheme} with the event's validated aggregate, and is checked once more before use.
 *
 * <p>Tags: after the batch's scripts, every event that names tags in its payload has each tag set
 * walked by {@link TagWalker} (generation raised, members unlinked in slot-grouped pipelined
 * batches, removed from the set). A walk failure fails only its event, retryably. Near caches: with
 * {@link Options#nearCacheChannels()} above zero, {@code invalidate.lua} publishes every applied
 * invalidation on the tenant's channel with a sequence number, and each finished tag walk publishes
 * one message too.
 *
 * <p>Redis Cluster ({@link RedisConnection#cluster()}): a script may only touch keys of one slot,
 * and the aggregates of a batch are spread over all slots, so each event gets its own call
 * (pipelined, Lettuce routes each to its slot's master); the near-cache message then follows in a
 * second script on the channel's sequence key ({@link #publishNear}).
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

  private final RedisConnection<String, String> connection;
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
      RedisConnection<String, String> connection, KeyScheme keys, Duration fenceTtl) {
    this(connection, keys, fenceTtl, Options.DEFAULT);
  }

  /**
   * Like {@link #VersionGatedRedisTarget(RedisConnection, KeyScheme, Duration)}, on a standalone
   * connection.
   */
  public VersionGatedRedisTarget(
      StatefulRedisConnection<String, String> connection, KeyScheme keys, Duration fenceTtl) {
    this(RedisConnection.of(connection), keys, fenceTtl);
  }

  /**
   * @param connection a connection with string keys and values; shared use is fine
   * @param keys the key scheme the caches were filled under
   * @param fenceTtl how long a fence (and a tag generation) lives; must be positive
   * @param options tag walk and near-cache settings
   */
  public VersionGatedRedisTarget(
      RedisConnection<String, String> connection,
      KeyScheme keys,
      Duration fenceTtl,
      Options options) {
    this(connection, keys, fenceTtl, options, (RedisConnector) null);
  }

  /**
   * Like {@link #VersionGatedRedisTarget(RedisConnection, KeyScheme, Duration, Options)}, on a
   * standalone connection.
   */
  public VersionGatedRedisTarget(
      StatefulRedisConnection<String, String> connection,
      KeyScheme keys,
      Duration fenceTtl,
      Options options) {
    this(RedisConnection.of(connection), keys, fenceTtl, options);
  }

  /**
   * Like {@link #VersionGatedRedisTarget(StatefulRedisConnection, KeyScheme, Duration, Options)},
   * with a client on which the target opens one more connection of its own for tag walks: its pages
   * of UNLINK / SREM / EXISTS commands are written in one go (auto-flush off), several times faster
   * on large tag sets. {@link #close()} closes that connection.
   */
  public VersionGatedRedisTarget(
      RedisConnection<String, String> connection,
      KeyScheme keys,
      Duration fenceTtl,
      Options options,
      RedisClient walkClient) {
    this(
        connection,
        keys,
        fenceTtl,
        options,
        walkClient == null ? null : RedisConnector.of(walkClient));
  }

  /**
   * Like {@link #VersionGatedRedisTarget(RedisConnection, KeyScheme, Duration, Options,
   * RedisClient)}, the tag-walk connection opened on {@code walk} (standalone or cluster; may be
   * null).
   */
  public VersionGatedRedisTarget(
      RedisConnection<String, String> connection,
      KeyScheme keys,
      Duration fenceTtl,
      Options options,
      RedisConnector walk) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.keys = Objects.requireNonNull(keys, "keys");
    if (fenceTtl == null || fenceTtl.toMillis() <= 0) {
      throw new IllegalArgumentException(
          "cache.fenceTtl must be a positive duration of at least 1 ms, got " + fenceTtl);
    }
    this.fenceTtl = fenceTtl;
    this.options = Objects.requireNonNull(options, "options");
    RedisConnection<String, String> batches = null;
    if (walk != null) {
      batches = walk.connect();
      batches.stateful().setAutoFlushCommands(false);
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

  /**
   * Like {@link #VersionGatedRedisTarget(RedisConnection, KeyScheme, Duration, Options,
   * RedisClient)}, on a standalone connection.
   */
  public VersionGatedRedisTarget(
      StatefulRedisConnection<String, String> connection,
      KeyScheme keys,
      Duration fenceTtl,
      Options options,
      RedisClient walkClient) {
    this(RedisConnection.of(connection), keys, fenceTtl, options, walkClient);
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
    List<ApplyResult> results;
    if (connection.cluster()) {
      results = applyEach(events, false);
      if (options.nearCacheChannels() > 0) {
        publishNear(events, results);
      }
    } else {
      results = applyBatch(events);
      if (results == null) {
        results = applyEach(events, true);
      }
    }
    for (int i = 0; i < events.size(); i++) {
      InvalidationEvent e = events.get(i);
      if (!e.payload().tags().isEmpty() && results.get(i).succeeded()) {
        results.set(i, walkTags(e));
      }
    }
    return results;
  }

  /**
   * The whole batch in one {@code invalidate.lua} call. Returns null when the call failed with a
   * server error (a script error, out of memory): the caller then applies the events one by one, so
   * only an event that fails on its own fails. Throws a retryable {@link InvalidatorException} when
   * Redis did not answer.
   */
  private List<ApplyResult> applyBatch(List<InvalidationEvent> events) {
    List<Object> reply;
    try {
      reply =
          RedisErrors.await(
              send(connection.async(), events, true),
              connection.getTimeout(),
              "invalidate.lua on " + events.size() + " aggregates");
    } catch (RuntimeException ex) {
      Throwable cause =
          ex instanceof InvalidatorException && ex.getCause() != null
              ? RedisErrors.unwrap(ex.getCause())
              : RedisErrors.unwrap(ex);
      if (cause instanceof TargetException) {
        return null; // a key outside the tenant, refused before sending: found per event
      }
      if (RedisErrors.isServerError(cause)) {
        if (events.size() == 1) {
          return new ArrayList<>(List.of(ApplyResult.failed(failure(events.get(0), cause))));
        }
        log.debug("invalidate.lua failed for a batch of {}; applying one by one", events.size());
        return null;
      }
      throw new InvalidatorException(
          "redis target: no reply for a batch of " + events.size() + " events", true, ex);
    }
    List<ApplyResult> results = new ArrayList<>(events.size());
    for (int i = 0; i < reply.size(); i++) {
      results.add(result(events.get(i), reply.get(i)));
    }
    return results;
  }

  /**
   * One event's element of {@code invalidate.lua}'s reply: 1 applied, 0 stale, a string the server
   * error that failed this event alone (classified like any server error: {@code OOM} retryable,
   * {@code WRONGTYPE} permanent).
   */
  private static ApplyResult result(InvalidationEvent e, Object element) {
    if (element instanceof Long l) {
      return l == 1L ? ApplyResult.APPLIED : ApplyResult.STALE_SKIPPED;
    }
    return ApplyResult.failed(
        failure(e, new RedisCommandExecutionException(String.valueOf(element))));
  }

  /**
   * One call per event, all sent before any reply is awaited. {@code nearInScript}: the script also
   * publishes the near-cache message (standalone only: the sequence key is in another slot).
   */
  private List<ApplyResult> applyEach(List<InvalidationEvent> events, boolean nearInScript) {
    RedisClusterAsyncCommands<String, String> async = connection.async();
    List<CompletableFuture<List<Object>>> replies = new ArrayList<>(events.size());
    for (InvalidationEvent e : events) {
      try {
        replies.add(send(async, List.of(e), nearInScript));
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
      try {
        List<Object> reply = replies.get(i).join();
        results.add(result(e, reply.isEmpty() ? null : reply.get(0)));
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

  /** Sends one {@code invalidate.lua} call for {@code events} (see the script for the layout). */
  private CompletableFuture<List<Object>> send(
      RedisClusterAsyncCommands<String, String> async,
      List<InvalidationEvent> events,
      boolean nearInScript) {
    List<String> scriptKeys = new ArrayList<>(3 * events.size());
    List<String> args = new ArrayList<>(2 + 6 * events.size());
    args.add(Long.toString(fenceTtl.toMillis()));
    args.add(Integer.toString(events.size()));
    for (InvalidationEvent e : events) {
      AggregateRef ref = e.aggregate();
      String fence = keys.fence(ref);
      String viewPrefix = keys.viewPrefix(ref);
      if (!keys.belongsTo(fence, e.tenantId()) || !keys.belongsTo(viewPrefix, e.tenantId())) {
        // Unreachable with a validated AggregateRef; kept as the last line of G5.
        throw new TargetException(
            NAME, e.eventId().toString(), e.tenantId(), "key outside the tenant", false, null);
      }
      scriptKeys.add(fence);
      scriptKeys.add(keys.views(ref));
      String channel = "";
      if (nearInScript && options.nearCacheChannels() > 0) {
        int shard = KeyScheme.nearShard(e.tenantId(), options.nearCacheChannels());
        channel = keys.nearChannel(shard);
        scriptKeys.add(keys.nearSequence(shard));
      }
      List<String> listed = e.payload().views();
      args.add(Long.toString(e.aggregateVersion()));
      args.add(viewPrefix);
      args.add(channel);
      args.add(e.tenantId());
      args.add(Integer.toString(listed.size()));
      for (String view : listed) {
        args.add(KeyScheme.view(view));
      }
    }
    return LuaScript.INVALIDATE.callAsync(
        async,
        ScriptOutputType.MULTI,
        scriptKeys.toArray(String[]::new),
        args.toArray(String[]::new));
  }

  /**
   * Redis Cluster: the near-cache message of every event whose script succeeded, with {@code
   * publish.lua} on the channel's sequence key (its own slot; sequence and PUBLISH stay in one
   * script, so the numbers of a channel have no holes). Sent for stale-skipped events too: a retry
   * after a failed publish finds the fence already raised (stale) and must still publish; a
   * duplicate message only drops a near-cache entry once more. A failed publish fails its event,
   * retryably, so the worker does not acknowledge it.
   */
  private void publishNear(List<InvalidationEvent> events, List<ApplyResult> results) {
    RedisClusterAsyncCommands<String, String> async = connection.async();
    List<CompletableFuture<Long>> sent = new ArrayList<>(events.size());
    for (int i = 0; i < events.size(); i++) {
      InvalidationEvent e = events.get(i);
      if (!results.get(i).succeeded()) {
        sent.add(null);
        continue;
      }
      int shard = KeyScheme.nearShard(e.tenantId(), options.nearCacheChannels());
      String body = "a|" + e.tenantId() + "|" + keys.viewPrefix(e.aggregate());
      sent.add(
          LuaScript.PUBLISH.callAsync(
              async,
              ScriptOutputType.INTEGER,
              new String[] {keys.nearSequence(shard)},
              new String[] {keys.nearChannel(shard), body}));
    }
    for (int i = 0; i < events.size(); i++) {
      CompletableFuture<Long> f = sent.get(i);
      if (f == null) {
        continue;
      }
      try {
        RedisErrors.await(f, connection.getTimeout(), "publish.lua");
      } catch (RuntimeException ex) {
        Throwable cause = RedisErrors.unwrap(ex);
        InvalidationEvent e = events.get(i);
        results.set(
            i,
            ApplyResult.failed(
                new TargetException(
                    NAME,
                    e.eventId().toString(),
                    e.tenantId(),
                    "near-cache publish failed on " + e.aggregate() + ": " + cause,
                    true,
                    cause)));
      }
    }
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
