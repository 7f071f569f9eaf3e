package dev.invalidator.redis;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read-through cache of versioned, tenant-scoped values whose fills can never resurrect stale
 * data (DESIGN.md "Fill protocol").
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li>Read: one script ({@code read.lua}) fetches the entry's {@code ver}, {@code val} and the
 *       aggregate's fence in one round trip. The entry is served only if {@code ver >= fence} (an
 *       absent fence counts as -1). The fence, not the invalidation's {@code UNLINK}, is what makes
 *       a read correct, so a fenced-out entry is treated as a miss even if it is still there.
 *   <li>Miss: the value is loaded from the source of truth with its version {@code w}, then written
 *       with {@code fill.lua} only if {@code w >= fence} and {@code w} is newer than any present
 *       entry; a fill the fence refuses is counted ({@code fill_rejected}). Either way the caller
 *       gets the loaded value: it is what the database said.
 *   <li>A load that took longer than the fill deadline is not written: the fence TTL is at least
 *       entry TTL plus fill deadline, so every fill that could race an invalidation runs while the
 *       fence still exists.
 *   <li>Single flight: concurrent misses of the same entry in this process wait for one load.
 *       Across processes, a miss takes a short fill lease in the same script as the read ({@code
 *       read.lua}); a process that finds the lease taken waits for the fill (re-reading with
 *       backoff) for at most the lease's duration, then loads itself. The lease is advisory: it
 *       saves database loads and never decides what is written, so a lost or expired lease costs
 *       one more load, never correctness.
 *   <li>Negative caching: a loader may answer {@link Versioned#absentAt(long)}; the absence is
 *       filled like a value (entry {@code ver = w, abs = 1}, {@link Builder#negativeTtl}) under the
 *       same fence and version rules, so an insert's event unlinks it like any stale entry.
 *   <li>Agreement with the daemon: {@link Builder#build()} reads the settings the daemon published
 *       ({@link PipelineSettings}) and refuses a different fence TTL; a different near-cache
 *       channel count turns the near tier off with a WARN.
 *   <li>The cache is never the source of truth: when Redis fails, reads fall back to the loader
 *       (counted and logged at debug), and an entry is never served without its fence check.
 *   <li>Entry TTLs are jittered ({@code entryTtl * (1 - jitter * random)}) so entries filled
 *       together do not expire together.
 *   <li>Tags ({@link TagFills}): a fill may name tags; it reads their generations before the load,
 *       registers the entry key in each tag set before the fill (refused if a generation moved) and
 *       re-checks after it, unlinking its own entry if a tag invalidation overtook it. Every fill
 *       also registers under the tenant tag {@code _all} unless {@link Builder#tenantTag(boolean)}
 *       is off, so {@code invalidator flush --tenant} reaches it. Both scripts run in the {@code
 *       {tenant}} slot and the fill in the aggregate's slot, so this works on Redis Cluster.
 *   <li>Near cache ({@link NearCache}, optional): an in-process tier in front of Redis, kept fresh
 *       by the near-cache Pub/Sub channels; see {@link NearCache} for its staleness bound.
 * </ul>
 *
 * <p>Thread-safe; one instance per application is enough (it holds one connection).
 */
public final class CacheClient implements AutoCloseable {
  /** Default lifetime of an entry. */
  public static final Duration DEFAULT_ENTRY_TTL = Duration.ofMinutes(10);

  /** Default TTL jitter, as a fraction of the entry TTL. */
  public static final double DEFAULT_TTL_JITTER = 0.1;

  /** Default fence TTL beyond the entry TTL: the fence TTL defaults to entry TTL plus this. */
  public static final Duration DEFAULT_FENCE_MARGIN = Duration.ofMinutes(5);

  /** Default longest load whose result is still written to the cache. */
  public static final Duration DEFAULT_FILL_DEADLINE = Duration.ofSeconds(5);

  /** Default lifetime of a cached absence ({@link Versioned#absentAt(long)}). */
  public static final Duration DEFAULT_NEGATIVE_TTL = Duration.ofSeconds(30);

  /**
   * Default fill lease: how long a miss's lease tells other processes to wait for its fill, and the
   * longest any of them waits.
   */
  public static final Duration DEFAULT_FILL_LEASE = Duration.ofSeconds(2);

  /** Micrometer name of the counter of fills refused by the fence. */
  public static final String FILL_REJECTED_METER = "invalidator.fill.rejected";

  private static final Logger log = LoggerFactory.getLogger(CacheClient.class);
  private static final List<String> NO_TAGS = List.of();
  private static final byte[][] NO_ARGS = new byte[0][];

  /**
   * A value with the aggregate version it was read at, or the absence of a row at a version
   * (negative caching, see {@link #absentAt(long)}).
   *
   * @param version the aggregate's version when the value (or its absence) was read; {@code >= 0}
   * @param value the bytes, null exactly when {@code absent}; callers must not modify them
   *     (concurrent callers may share them)
   * @param absent true for "no such row at {@code version}"
   */
  public record Versioned(long version, byte[] value, boolean absent) {
    public Versioned {
      if (version < 0) {
        throw new IllegalArgumentException("version must be >= 0, got " + version);
      }
      if (absent) {
        if (value != null) {
          throw new IllegalArgumentException("an absence has no value");
        }
      } else {
        Objects.requireNonNull(value, "value");
      }
    }

    /** A value read at {@code version}. */
    public Versioned(long version, byte[] value) {
      this(version, Objects.requireNonNull(value, "value"), false);
    }

    /**
     * "No such row at {@code version}", cached for {@link Builder#negativeTtl(Duration)} under the
     * same fence rules as a value: an event with a newer version (the insert) unlinks it, and a
     * fill read before such an event was applied is refused. {@code version} must be lower than the
     * version an insert of the row will carry: {@code 0} for a row that never existed when versions
     * start at 1, the delete's version for a row deleted by an event. (A version below the
     * aggregate's fence, such as 0 after a delete, is simply refused by the fence: not cached.)
     */
    public static Versioned absentAt(long version) {
      return new Versioned(version, null, true);
    }

    @Override
    public String toString() {
      return absent
          ? "Versioned[version=" + version + ", absent]"
          : "Versioned[version=" + version + ", " + value.length + " bytes]";
    }
  }

  /** Reads a value and its version from the source of truth. */
  @FunctionalInterface
  public interface Loader {
    /**
     * The current value and version; {@link Versioned#absentAt(long)} when there is no such row and
     * the absence may be cached; or null when there is no such row and nothing is cached.
     */
    Versioned load() throws Exception;
  }

  /**
   * Reads a value and its version from the source of truth without blocking: for {@link
   * #getAsync(String, String, String, String, AsyncLoader)}, with a non-blocking database client.
   * It may be called on Lettuce's I/O thread, so it must not block; a blocking (JDBC) loader goes
   * through {@link #getAsync(String, String, String, String, Loader, Executor)}.
   */
  @FunctionalInterface
  public interface AsyncLoader {
    /**
     * Completes as {@link Loader#load()} returns: the value and version, {@link
     * Versioned#absentAt(long)}, or null.
     */
    CompletionStage<Versioned> load();
  }

  /**
   * Counters since the client was built.
   *
   * @param hits reads served from Redis
   * @param misses reads not served from Redis (absent, fenced out, or Redis failed)
   * @param loads loader calls
   * @param loadsShared misses that waited for another caller's load of the same entry
   * @param fills values written
   * @param fillsRejected fills refused by the fence ({@code fill_rejected})
   * @param fillsSuperseded fills not written because the same or a newer version was present
   * @param fillsDroppedLate fills dropped because the load outlasted the fill deadline
   * @param redisErrors Redis commands that failed (the read fell back to the loader)
   * @param leaseWaits misses that found another process's fill lease and waited for its fill
   * @param leaseWaitsServed lease waits that ended with the other process's fill served
   */
  public record Stats(
      long hits,
      long misses,
      long loads,
      long loadsShared,
      long fills,
      long fillsRejected,
      long fillsSuperseded,
      long fillsDroppedLate,
      long redisErrors,
      long leaseWaits,
      long leaseWaitsServed) {}

  /**
   * Tag counters since the client was built.
   *
   * @param fillsRejectedByTag fills not written because a tag generation moved after it was read
   * @param fillsUndoneByTag fills written and then unlinked by the re-check
   * @param membersPruned tag-set members removed opportunistically because their entry was gone
   */
  public record TagStats(long fillsRejectedByTag, long fillsUndoneByTag, long membersPruned) {}

  /**
   * Near-cache counters since the client was built; all zero without a near cache.
   *
   * @param hits reads served from process memory
   * @param putsRefused values not stored because a message or flush of their channel came first
   * @param messages Pub/Sub messages received (heartbeats included)
   * @param gapFlushes channel flushes after a hole in the sequence numbers
   * @param reconnectFlushes whole-tier flushes after a lost subscriber connection
   * @param silenceFlushes whole-tier flushes after silence beyond the heartbeat timeout
   * @param reconnects successful re-subscriptions
   * @param size aggregates held now (estimate)
   */
  public record NearStats(
      long hits,
      long putsRefused,
      long messages,
      long gapFlushes,
      long reconnectFlushes,
      long silenceFlushes,
      long reconnects,
      long size) {
    /** Every flush, whatever its reason. */
    public long flushes() {
      return gapFlushes + reconnectFlushes + silenceFlushes;
    }
  }

  private final RedisConnection<String, byte[]> connection;
  private final AbstractRedisClient ownedClient;
  private final KeyScheme keys;
  private final Duration entryTtl;
  private final double ttlJitter;
  private final Duration fenceTtl;
  private final Duration fillDeadline;
  private final Duration negativeTtl;
  private final long leaseMillis;
  private final Clock clock;
  private final ConcurrentHashMap<String, CompletableFuture<Versioned>> inFlight =
      new ConcurrentHashMap<>();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final boolean tenantTag;
  private final TagFills tagFills;
  private final NearCache near;

  /** Test seam: runs between a tagged fill and its re-check (the cross-slot race window). */
  volatile Runnable afterTaggedFill;

  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder loads = new LongAdder();
  private final LongAdder loadsShared = new LongAdder();
  private final LongAdder fills = new LongAdder();
  private final LongAdder fillsRejected = new LongAdder();
  private final LongAdder fillsSuperseded = new LongAdder();
  private final LongAdder fillsDroppedLate = new LongAdder();
  private final LongAdder redisErrors = new LongAdder();
  private final LongAdder leaseWaits = new LongAdder();
  private final LongAdder leaseWaitsServed = new LongAdder();
  private final LongAdder fillsRejectedByTag = new LongAdder();
  private final LongAdder fillsUndoneByTag = new LongAdder();
  private final LongAdder membersPruned = new LongAdder();

  private CacheClient(
      Builder b, RedisConnector client, AbstractRedisClient ownedClient, Duration fenceTtl) {
    this.keys = b.keyScheme;
    this.entryTtl = b.entryTtl;
    this.ttlJitter = b.ttlJitter;
    this.fenceTtl = fenceTtl;
    this.fillDeadline = b.fillDeadline;
    this.negativeTtl = b.negativeTtl;
    this.leaseMillis = b.fillLease.toMillis();
    this.clock = b.clock;
    this.ownedClient = ownedClient;
    this.connection = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    NearCacheOptions nearOptions;
    try {
      nearOptions = agreeWithDaemon(connection, keys, fenceTtl, b.nearCache);
    } catch (RuntimeException ex) {
      connection.close();
      throw ex;
    }
    this.tenantTag = b.tenantTag;
    this.tagFills = new TagFills(client, keys);
    this.near =
        nearOptions == null ? null : new NearCache(client, keys, nearOptions, System::nanoTime);
    if (b.meterRegistry != null) {
      // Micrometer is optional: only an application that has it can have passed a registry, and
      // only then is CacheClientMeters (the one class that names Micrometer's types) loaded.
      CacheClientMeters.register(b.meterRegistry, fillsRejected);
    }
  }

  /** A builder with the defaults; a Redis client or URL must be set. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Reads the {@code view} of aggregate {@code type/id} of {@code tenant} through the cache.
   *
   * @param loader reads the row and its version from the source of truth on a miss
   * @return the cached or loaded value; an absent {@link Versioned} when the loader reported (or a
   *     cached entry records) {@link Versioned#absentAt(long) an absence}; null when the loader
   *     returned null
   * @throws dev.invalidator.core.InvalidEventException when an identifier is not valid (naming it)
   * @throws InvalidatorException when the loader failed (its exception is the cause; a runtime
   *     exception of the loader is rethrown as is)
   */
  public Versioned get(String tenant, String type, String id, String view, Loader loader) {
    return get(tenant, type, id, view, NO_TAGS, loader);
  }

  /**
   * Like {@link #get(String, String, String, String, Loader)}, registering a filled entry under
   * {@code tags} of {@code tenant}: an event naming one of them (or {@code invalidator flush
   * --tenant T --tag X}) invalidates it, and a fill whose load raced such an invalidation is
   * dropped.
   *
   * @param tags tag names (validated like views); may be empty
   */
  public Versioned get(
      String tenant, String type, String id, String view, Collection<String> tags, Loader loader) {
    Objects.requireNonNull(loader, "loader");
    Request r = new Request(tenant, type, id, view, tags);
    Versioned local = r.nearValue();
    if (local != null) {
      return local;
    }
    String entryKey = r.entryKey;
    Lease lease = r.lease();
    Read cached = read(entryKey, r.fenceKey, lease);
    if (cached.value() != null) {
      hits.increment();
      r.keepNear(cached.value());
      return cached.value();
    }
    misses.increment();
    CompletableFuture<Versioned> mine = new CompletableFuture<>();
    CompletableFuture<Versioned> running = inFlight.putIfAbsent(entryKey, mine);
    if (running != null) {
      loadsShared.increment();
      if (cached.lease() == Read.MINE) {
        release(lease);
      }
      return await(running, entryKey);
    }
    try {
      if (cached.lease() == Read.OTHERS) {
        Read waited = waitForFill(entryKey, r.fenceKey, lease);
        if (waited.value() != null) {
          leaseWaitsServed.increment();
          mine.complete(waited.value());
          r.keepNear(waited.value());
          return waited.value();
        }
        cached = waited;
      }
      Lease held = cached.lease() == Read.MINE ? lease : null;
      Filled loaded;
      try {
        loaded = loadAndFill(r.ref, r.view, entryKey, r.tags, loader, held);
      } finally {
        if (held != null && !held.released) {
          release(held);
        }
      }
      mine.complete(loaded == null ? null : loaded.value());
      if (loaded != null && loaded.written()) {
        r.keepNear(loaded.value());
      }
      return loaded == null ? null : loaded.value();
    } catch (RuntimeException | Error ex) {
      mine.completeExceptionally(ex);
      throw ex;
    } finally {
      inFlight.remove(entryKey, mine);
    }
  }

  /**
   * {@link #get(String, String, String, String, Loader)} without blocking the caller: the same
   * read, fence and fill rules (one {@code read.lua} round trip; a miss loads, and {@code fill.lua}
   * writes only if the loaded version is not older than the fence), on Lettuce's asynchronous API.
   * Concurrent misses of one entry share one load, with {@code get} callers too; a miss that finds
   * another process's fill lease re-reads on a timer, never a sleeping thread.
   *
   * <p>The future completes on Lettuce's I/O thread (or the loader's): chain blocking work with the
   * {@code ...Async(fn, executor)} methods. It fails as {@code get} throws: with the loader's own
   * runtime exception, or an {@link InvalidatorException} whose cause is its checked one.
   *
   * @throws dev.invalidator.core.InvalidEventException at the call when an identifier is not valid
   */
  public CompletableFuture<Versioned> getAsync(
      String tenant, String type, String id, String view, AsyncLoader loader) {
    return getAsync(tenant, type, id, view, NO_TAGS, loader);
  }

  /**
   * {@link #getAsync(String, String, String, String, AsyncLoader)} with a blocking loader, which
   * runs on {@code executor} (the application's pool for database calls); nothing else blocks.
   */
  public CompletableFuture<Versioned> getAsync(
      String tenant, String type, String id, String view, Loader loader, Executor executor) {
    Objects.requireNonNull(loader, "loader");
    Objects.requireNonNull(executor, "executor");
    return getAsync(
        tenant,
        type,
        id,
        view,
        NO_TAGS,
        () ->
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return loader.load();
                  } catch (RuntimeException ex) {
                    throw ex;
                  } catch (Exception ex) {
                    throw new CompletionException(ex);
                  }
                },
                executor));
  }

  /** Like {@link #getAsync(String, String, String, String, AsyncLoader)}, with tags. */
  public CompletableFuture<Versioned> getAsync(
      String tenant,
      String type,
      String id,
      String view,
      Collection<String> tags,
      AsyncLoader loader) {
    Objects.requireNonNull(loader, "loader");
    Request r = new Request(tenant, type, id, view, tags);
    Versioned local = r.nearValue();
    if (local != null) {
      return CompletableFuture.completedFuture(local);
    }
    String entryKey = r.entryKey;
    String fenceKey = r.fenceKey;
    Lease lease = r.lease();
    return readAsync(entryKey, fenceKey, lease)
        .thenCompose(
            cached -> {
              if (cached.value() != null) {
                hits.increment();
                r.keepNear(cached.value());
                return CompletableFuture.completedFuture(cached.value());
              }
              misses.increment();
              CompletableFuture<Versioned> mine = new CompletableFuture<>();
              CompletableFuture<Versioned> running = inFlight.putIfAbsent(entryKey, mine);
              if (running != null) {
                loadsShared.increment();
                if (cached.lease() == Read.MINE) {
                  releaseAsync(lease);
                }
                return running.thenApply(v -> v); // a copy: callers cannot complete the shared one
              }
              CompletableFuture<Read> afterWait;
              if (cached.lease() == Read.OTHERS) {
                leaseWaits.increment();
                long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(leaseMillis);
                afterWait = waitForFillAsync(entryKey, fenceKey, lease, deadline, 2);
              } else {
                afterWait = CompletableFuture.completedFuture(cached);
              }
              CompletableFuture<Versioned> result =
                  afterWait.thenCompose(
                      waited -> {
                        if (cached.lease() == Read.OTHERS && waited.value() != null) {
                          leaseWaitsServed.increment();
                          r.keepNear(waited.value());
                          return CompletableFuture.completedFuture(waited.value());
                        }
                        Lease held = waited.lease() == Read.MINE ? lease : null;
                        return loadAndFillAsync(r.ref, r.view, entryKey, r.tags, loader, held)
                            .whenComplete(
                                (filled, error) -> {
                                  if (held != null && !held.released) {
                                    releaseAsync(held);
                                  }
                                })
                            .thenApply(
                                loaded -> {
                                  if (loaded != null && loaded.written()) {
                                    r.keepNear(loaded.value());
                                  }
                                  return loaded == null ? null : loaded.value();
                                });
                      });
              result.whenComplete(
                  (value, error) -> {
                    if (error != null) {
                      mine.completeExceptionally(unwrap(error));
                    } else {
                      mine.complete(value);
                    }
                    inFlight.remove(entryKey, mine);
                  });
              return result;
            });
  }

  /**
   * A typed view of this cache: values go through {@code codec}, versions stay explicit. Cheap; the
   * view shares this client's connection and counters.
   */
  public <T> TypedCache<T> typed(CacheCodec<T> codec) {
    return new TypedCache<>(this, codec);
  }

  /** A snapshot of the counters. */
  public Stats stats() {
    return new Stats(
        hits.sum(),
        misses.sum(),
        loads.sum(),
        loadsShared.sum(),
        fills.sum(),
        fillsRejected.sum(),
        fillsSuperseded.sum(),
        fillsDroppedLate.sum(),
        redisErrors.sum(),
        leaseWaits.sum(),
        leaseWaitsServed.sum());
  }

  /** A snapshot of the tag counters. */
  public TagStats tagStats() {
    return new TagStats(fillsRejectedByTag.sum(), fillsUndoneByTag.sum(), membersPruned.sum());
  }

  /** A snapshot of the near-cache counters (zeros without a near cache). */
  public NearStats nearStats() {
    if (near == null) {
      return new NearStats(0, 0, 0, 0, 0, 0, 0, 0);
    }
    return new NearStats(
        near.hits(),
        near.putsRefused(),
        near.messages(),
        near.flushes(NearCache.Reason.GAP),
        near.flushes(NearCache.Reason.RECONNECT),
        near.flushes(NearCache.Reason.SILENCE),
        near.reconnects(),
        near.size());
  }

  /** The near cache, for tests in this package; null when off. */
  NearCache nearCache() {
    return near;
  }

  /** The key scheme entries are stored under. */
  public KeyScheme keyScheme() {
    return keys;
  }

  /** The fence TTL; the invalidation target must use the same value. */
  public Duration fenceTtl() {
    return fenceTtl;
  }

  /** Closes the connection, and the Redis client when it was built from a URL. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      try {
        if (near != null) {
          near.close();
        }
        tagFills.close();
        connection.close();
      } finally {
        if (ownedClient != null) {
          ownedClient.shutdown();
        }
      }
    }
  }

  /**
   * A fill lease this caller may hold ({@code read.lua}, {@code fill.lua}): its key, a random
   * token, and whether it was released already (by the fill script).
   */
  private static final class Lease {
    final String key;
    final byte[] token;
    boolean released;

    Lease(String key) {
      this.key = key;
      this.token = ascii(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    }
  }

  /**
   * One read: the servable value (null on a miss) and the lease outcome of a miss: {@link #NONE}
   * (no lease asked, or the read failed), {@link #MINE} or {@link #OTHERS}.
   */
  /**
   * One call's keys, worked out once for {@code get} and {@code getAsync}: the aggregate, the view,
   * its tags with the tenant tag, the Redis keys, and the near cache's shard and token.
   */
  private final class Request {
    final AggregateRef ref;
    final String view;
    final List<String> tags;
    final String entryKey;
    final String fenceKey;
    final String viewPrefix;
    final int shard;
    long token = -1;

    Request(String tenant, String type, String id, String view, Collection<String> tags) {
      Objects.requireNonNull(tags, "tags");
      this.ref = new AggregateRef(tenant, type, id);
      this.view = KeyScheme.view(view);
      this.tags = TagFills.tagsOf(tags, tenantTag);
      this.entryKey = keys.entry(ref, this.view);
      this.fenceKey = keys.fence(ref);
      this.viewPrefix = keys.viewPrefix(ref);
      this.shard = near == null ? -1 : near.shard(tenant);
    }

    /** The near cache's value, or null; on a miss takes its token before Redis is read. */
    Versioned nearValue() {
      if (near == null) {
        return null;
      }
      Versioned local = near.get(viewPrefix, view);
      if (local == null) {
        token = near.token(shard); // before reading Redis: see NearCache, "the put race"
      }
      return local;
    }

    /** Keeps a value read or written in Redis in the near cache (never an absence). */
    void keepNear(Versioned value) {
      if (near != null && !value.absent()) {
        near.put(ref.tenantId(), shard, viewPrefix, view, value, token);
      }
    }

    Lease lease() {
      return leaseMillis > 0 ? new Lease(keys.fillLease(ref, view)) : null;
    }
  }

  private record Read(Versioned value, int lease) {
    static final int NONE = -1;
    static final int OTHERS = 0;
    static final int MINE = 1;
    static final Read MISS = new Read(null, NONE);
  }

  private Read read(String entryKey, String fenceKey, Lease lease) {
    List<Object> reply;
    try {
      if (lease == null) {
        reply =
            LuaScript.READ.call(
                connection.sync(),
                ScriptOutputType.MULTI,
                new String[] {entryKey, fenceKey},
                NO_ARGS);
      } else {
        reply =
            LuaScript.READ.call(
                connection.sync(),
                ScriptOutputType.MULTI,
                new String[] {entryKey, fenceKey, lease.key},
                new byte[][] {lease.token, ascii(leaseMillis)});
      }
    } catch (RuntimeException ex) {
      redisErrors.increment();
      log.debug("cache read of {} failed, loading from the source: {}", entryKey, ex.toString());
      return Read.MISS;
    }
    return toRead(entryKey, reply);
  }

  private static Read toRead(String entryKey, List<Object> reply) {
    int leaseOutcome = reply.get(4) instanceof Long l ? l.intValue() : Read.NONE;
    Versioned value = servable(entryKey, reply);
    return new Read(value, value != null ? Read.NONE : leaseOutcome);
  }

  /** {@link #read} on the asynchronous API; a failed read is a miss, as there. */
  private CompletableFuture<Read> readAsync(String entryKey, String fenceKey, Lease lease) {
    CompletableFuture<List<Object>> reply;
    try {
      reply =
          lease == null
              ? LuaScript.READ.callAsync(
                  connection.async(),
                  ScriptOutputType.MULTI,
                  new String[] {entryKey, fenceKey},
                  NO_ARGS)
              : LuaScript.READ.callAsync(
                  connection.async(),
                  ScriptOutputType.MULTI,
                  new String[] {entryKey, fenceKey, lease.key},
                  new byte[][] {lease.token, ascii(leaseMillis)});
    } catch (RuntimeException ex) {
      reply = CompletableFuture.failedFuture(ex);
    }
    return reply.handle(
        (r, error) -> {
          if (error != null) {
            redisErrors.increment();
            log.debug(
                "cache read of {} failed, loading from the source: {}",
                entryKey,
                unwrap(error).toString());
            return Read.MISS;
          }
          return toRead(entryKey, r);
        });
  }

  /** {@link #waitForFill} on a timer: re-reads with the same backoff, no thread sleeps. */
  private CompletableFuture<Read> waitForFillAsync(
      String entryKey, String fenceKey, Lease lease, long deadline, long pauseMillis) {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      log.debug("waited {} ms for another fill of {}: loading", leaseMillis, entryKey);
      return CompletableFuture.completedFuture(Read.MISS);
    }
    long pause = Math.min(pauseMillis, TimeUnit.NANOSECONDS.toMillis(left) + 1);
    Executor later = CompletableFuture.delayedExecutor(pause, TimeUnit.MILLISECONDS);
    return CompletableFuture.runAsync(() -> {}, later)
        .thenCompose(ignored -> readAsync(entryKey, fenceKey, lease))
        .thenCompose(
            r -> {
              if (r.value() != null || r.lease() != Read.OTHERS) {
                return CompletableFuture.completedFuture(r);
              }
              return waitForFillAsync(
                  entryKey, fenceKey, lease, deadline, Math.min(pauseMillis * 2, 50));
            });
  }

  /** The entry of a {@code read.lua} reply if it may be served, else null. */
  private static Versioned servable(String entryKey, List<Object> reply) {
    Long ver = ServeRule.decimal(reply.get(0));
    if (ver == null) {
      return null;
    }
    boolean absent = reply.get(3) instanceof byte[] abs && abs.length == 1 && abs[0] == '1';
    if (!(reply.get(1) instanceof byte[]) && !absent) {
      return null;
    }
    long fence = ServeRule.fence(reply.get(2));
    if (!ServeRule.serves(ver, fence)) {
      log.debug("entry {} at version {} is fenced out by {}", entryKey, ver, fence);
      return null;
    }
    return reply.get(1) instanceof byte[] value
        ? new Versioned(ver, value)
        : Versioned.absentAt(ver);
  }

  /**
   * Waits for another process's fill of a missed entry: re-reads with backoff until the entry is
   * servable, or the lease is free (then this caller holds it and loads), or the fill lease has
   * elapsed (then it loads without a lease: the bound on waiting).
   */
  private Read waitForFill(String entryKey, String fenceKey, Lease lease) {
    leaseWaits.increment();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(leaseMillis);
    long pauseMillis = 2;
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        log.debug("waited {} ms for another fill of {}: loading", leaseMillis, entryKey);
        return Read.MISS;
      }
      try {
        Thread.sleep(Math.min(pauseMillis, TimeUnit.NANOSECONDS.toMillis(left) + 1));
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        return Read.MISS;
      }
      pauseMillis = Math.min(pauseMillis * 2, 50);
      Read r = read(entryKey, fenceKey, lease);
      if (r.value() != null || r.lease() != Read.OTHERS) {
        return r;
      }
    }
  }

  /** Releases a lease this caller holds (a miss that did not reach {@code fill.lua}). */
  private void release(Lease lease) {
    lease.released = true;
    try {
      LuaScript.UNLOCK.call(
          connection.sync(),
          ScriptOutputType.INTEGER,
          new String[] {lease.key},
          new byte[][] {lease.token, ascii(0)});
    } catch (RuntimeException ex) {
      redisErrors.increment();
      log.debug("releasing the fill lease {} failed; it expires: {}", lease.key, ex.toString());
    }
  }

  /** {@link #release} without waiting for the reply. */
  private void releaseAsync(Lease lease) {
    lease.released = true;
    try {
      LuaScript.UNLOCK
          .callAsync(
              connection.async(),
              ScriptOutputType.INTEGER,
              new String[] {lease.key},
              new byte[][] {lease.token, ascii(0)})
          .whenComplete(
              (ok, error) -> {
                if (error != null) {
                  redisErrors.increment();
                  log.debug(
                      "releasing the fill lease {} failed; it expires: {}",
                      lease.key,
                      unwrap(error).toString());
                }
              });
    } catch (RuntimeException ex) {
      redisErrors.increment();
      log.debug("releasing the fill lease {} failed; it expires: {}", lease.key, ex.toString());
    }
  }

  /** A loaded value, and whether it is now in Redis (only then may the near cache keep it). */
  private record Filled(Versioned value, boolean written) {}

  private Filled loadAndFill(
      AggregateRef ref,
      String view,
      String entryKey,
      List<String> tags,
      Loader loader,
      Lease lease) {
    loads.increment();
    String[] generations = null;
    if (!tags.isEmpty()) {
      try {
        generations = tagFills.generations(ref.tenantId(), tags);
      } catch (RuntimeException ex) {
        redisErrors.increment();
        log.debug("reading tag generations for {} failed: {}", entryKey, ex.toString());
      }
    }
    Instant started = clock.instant();
    Versioned loaded;
    try {
      loaded = loader.load();
    } catch (RuntimeException ex) {
      throw ex;
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException("loader interrupted for " + entryKey, true, ex);
    } catch (Exception ex) {
      throw new InvalidatorException("loader failed for " + entryKey + ": " + ex, true, ex);
    }
    if (loaded == null) {
      return null;
    }
    if (!tags.isEmpty() && generations == null) {
      return new Filled(loaded, false); // without generations a tagged fill cannot be checked
    }
    Duration took = Duration.between(started, clock.instant());
    if (took.compareTo(fillDeadline) > 0) {
      fillsDroppedLate.increment();
      log.debug(
          "load of {} took {} ms, over the fill deadline of {} ms: not filling",
          entryKey,
          took.toMillis(),
          fillDeadline.toMillis());
      return new Filled(loaded, false);
    }
    long ttl = loaded.absent() ? jittered(negativeTtl) : nextEntryTtlMillis();
    if (tags.isEmpty()) {
      return new Filled(loaded, fill(ref, view, entryKey, loaded, ttl, lease));
    }
    return new Filled(
        loaded, fillTagged(ref, view, entryKey, loaded, ttl, tags, generations, lease));
  }

  /** The cross-slot fill: register, fill, re-check and undo (see {@link TagFills}). */
  private boolean fillTagged(
      AggregateRef ref,
      String view,
      String entryKey,
      Versioned loaded,
      long ttl,
      List<String> tags,
      String[] generations,
      Lease lease) {
    String tenant = ref.tenantId();
    long setTtl = Math.max(ttl, entryTtl.toMillis());
    try {
      if (!tagFills.join(tenant, tags, generations, entryKey, setTtl)) {
        fillsRejectedByTag.increment();
        log.debug("fill of {} refused: a tag generation moved during the load", entryKey);
        return false;
      }
    } catch (RuntimeException ex) {
      redisErrors.increment();
      log.debug("tag registration of {} failed, not filling: {}", entryKey, ex.toString());
      return false;
    }
    if (!fill(ref, view, entryKey, loaded, ttl, lease)) {
      return false;
    }
    Runnable hook = afterTaggedFill;
    if (hook != null) {
      hook.run();
    }
    try {
      if (!tagFills.join(tenant, tags, generations, entryKey, setTtl)) {
        tagFills.unlink(entryKey);
        fillsUndoneByTag.increment();
        log.debug("fill of {} undone: a tag invalidation overtook it", entryKey);
        return false;
      }
      membersPruned.add(tagFills.maybePrune(tenant, tags));
    } catch (RuntimeException ex) {
      // The re-check did not answer: undo rather than hope (DESIGN.md, cross-slot rule).
      redisErrors.increment();
      try {
        tagFills.unlink(entryKey);
      } catch (RuntimeException again) {
        log.warn(
            "could not re-check or undo the tagged fill of {}; it lives until its TTL", entryKey);
      }
      return false;
    }
    return true;
  }

  /** Runs {@code fill.lua}, releasing {@code lease} if given; true if the value was written. */
  private boolean fill(
      AggregateRef ref, String view, String entryKey, Versioned loaded, long ttl, Lease lease) {
    FillCall call = fillCall(ref, view, entryKey, loaded, ttl, lease);
    Long outcome;
    try {
      outcome =
          LuaScript.FILL.call(
              connection.sync(), ScriptOutputType.INTEGER, call.keys(), call.args());
      if (lease != null) {
        lease.released = true;
      }
    } catch (RuntimeException ex) {
      redisErrors.increment();
      log.debug("fill of {} failed: {}", entryKey, ex.toString());
      return false;
    }
    return countFill(entryKey, loaded, outcome);
  }

  /** The keys and arguments of one {@code fill.lua} call. */
  private record FillCall(String[] keys, byte[][] args) {}

  private FillCall fillCall(
      AggregateRef ref, String view, String entryKey, Versioned loaded, long ttl, Lease lease) {
    byte[] value = loaded.absent() ? new byte[0] : loaded.value();
    byte[] absent = ascii(loaded.absent() ? 1 : 0);
    if (lease == null) {
      return new FillCall(
          new String[] {entryKey, keys.fence(ref), keys.views(ref)},
          new byte[][] {
            ascii(loaded.version()),
            value,
            ascii(ttl),
            view.getBytes(StandardCharsets.UTF_8),
            ascii(fenceTtl.toMillis()),
            absent
          });
    }
    return new FillCall(
        new String[] {entryKey, keys.fence(ref), keys.views(ref), lease.key},
        new byte[][] {
          ascii(loaded.version()),
          value,
          ascii(ttl),
          view.getBytes(StandardCharsets.UTF_8),
          ascii(fenceTtl.toMillis()),
          absent,
          lease.token
        });
  }

  /** Counts a {@code fill.lua} outcome; true if the value was written. */
  private boolean countFill(String entryKey, Versioned loaded, Long outcome) {
    if (outcome == null) {
      return false;
    }
    switch (outcome.intValue()) {
      case 1 -> fills.increment();
      case 0 -> {
        fillsRejected.increment();
        log.debug("fill of {} at version {} refused by the fence", entryKey, loaded.version());
      }
      default -> fillsSuperseded.increment();
    }
    return outcome == 1L;
  }

  /** {@link #loadAndFill} on the asynchronous API, with the same deadline, fence and tag rules. */
  private CompletableFuture<Filled> loadAndFillAsync(
      AggregateRef ref,
      String view,
      String entryKey,
      List<String> tags,
      AsyncLoader loader,
      Lease lease) {
    loads.increment();
    CompletableFuture<String[]> generations =
        tags.isEmpty()
            ? CompletableFuture.completedFuture(null)
            : tagFills
                .generationsAsync(ref.tenantId(), tags)
                .exceptionally(
                    error -> {
                      redisErrors.increment();
                      log.debug(
                          "reading tag generations for {} failed: {}",
                          entryKey,
                          unwrap(error).toString());
                      return null;
                    });
    return generations.thenCompose(
        gens -> {
          Instant started = clock.instant();
          CompletableFuture<Versioned> load;
          try {
            CompletionStage<Versioned> stage = loader.load();
            load =
                stage == null
                    ? CompletableFuture.failedFuture(
                        new NullPointerException(
                            "the loader of " + entryKey + " returned no stage"))
                    : stage.toCompletableFuture();
          } catch (RuntimeException ex) {
            load = CompletableFuture.failedFuture(ex);
          }
          return load.handle(
                  (loaded, error) -> {
                    if (error != null) {
                      Throwable cause = unwrap(error);
                      if (cause instanceof RuntimeException re) {
                        throw re;
                      }
                      if (cause instanceof Error err) {
                        throw err;
                      }
                      throw new InvalidatorException(
                          "loader failed for " + entryKey + ": " + cause, true, cause);
                    }
                    return loaded;
                  })
              .thenCompose(
                  loaded -> {
                    if (loaded == null) {
                      return CompletableFuture.<Filled>completedFuture(null);
                    }
                    if (!tags.isEmpty() && gens == null) {
                      return CompletableFuture.completedFuture(new Filled(loaded, false));
                    }
                    Duration took = Duration.between(started, clock.instant());
                    if (took.compareTo(fillDeadline) > 0) {
                      fillsDroppedLate.increment();
                      log.debug(
                          "load of {} took {} ms, over the fill deadline of {} ms: not filling",
                          entryKey,
                          took.toMillis(),
                          fillDeadline.toMillis());
                      return CompletableFuture.completedFuture(new Filled(loaded, false));
                    }
                    long ttl = loaded.absent() ? jittered(negativeTtl) : nextEntryTtlMillis();
                    CompletableFuture<Boolean> written =
                        tags.isEmpty()
                            ? fillAsync(ref, view, entryKey, loaded, ttl, lease)
                            : fillTaggedAsync(ref, view, entryKey, loaded, ttl, tags, gens, lease);
                    return written.thenApply(w -> new Filled(loaded, w));
                  });
        });
  }

  /** {@link #fillTagged} on the asynchronous API: register, fill, re-check and undo. */
  private CompletableFuture<Boolean> fillTaggedAsync(
      AggregateRef ref,
      String view,
      String entryKey,
      Versioned loaded,
      long ttl,
      List<String> tags,
      String[] generations,
      Lease lease) {
    String tenant = ref.tenantId();
    long setTtl = Math.max(ttl, entryTtl.toMillis());
    return tagFills
        .joinAsync(tenant, tags, generations, entryKey, setTtl)
        .handle(
            (joined, error) -> {
              if (error != null) {
                redisErrors.increment();
                log.debug(
                    "tag registration of {} failed, not filling: {}",
                    entryKey,
                    unwrap(error).toString());
                return false;
              }
              if (!joined) {
                fillsRejectedByTag.increment();
                log.debug("fill of {} refused: a tag generation moved during the load", entryKey);
              }
              return joined;
            })
        .thenCompose(
            joined ->
                joined
                    ? fillAsync(ref, view, entryKey, loaded, ttl, lease)
                    : CompletableFuture.completedFuture(false))
        .thenCompose(
            filled -> {
              if (!filled) {
                return CompletableFuture.completedFuture(false);
              }
              Runnable hook = afterTaggedFill;
              if (hook != null) {
                hook.run();
              }
              return tagFills
                  .joinAsync(tenant, tags, generations, entryKey, setTtl)
                  .handle(
                      (stillValid, error) -> {
                        if (error == null && stillValid) {
                          // Opportunistic pruning blocks on its own connection: off this thread.
                          CompletableFuture.runAsync(
                              () -> membersPruned.add(tagFills.maybePrune(tenant, tags)));
                          return CompletableFuture.completedFuture(true);
                        }
                        if (error != null) {
                          // The re-check did not answer: undo rather than hope (DESIGN.md).
                          redisErrors.increment();
                        } else {
                          fillsUndoneByTag.increment();
                          log.debug("fill of {} undone: a tag invalidation overtook it", entryKey);
                        }
                        return tagFills
                            .unlinkAsync(entryKey)
                            .handle(
                                (n, unlinkError) -> {
                                  if (unlinkError != null) {
                                    log.warn(
                                        "could not re-check or undo the tagged fill of {}; it lives"
                                            + " until its TTL",
                                        entryKey);
                                  }
                                  return false;
                                });
                      })
                  .thenCompose(f -> f);
            });
  }

  /** {@link #fill} on the asynchronous API. */
  private CompletableFuture<Boolean> fillAsync(
      AggregateRef ref, String view, String entryKey, Versioned loaded, long ttl, Lease lease) {
    FillCall call = fillCall(ref, view, entryKey, loaded, ttl, lease);
    CompletableFuture<Long> outcome;
    try {
      outcome =
          LuaScript.FILL.callAsync(
              connection.async(), ScriptOutputType.INTEGER, call.keys(), call.args());
    } catch (RuntimeException ex) {
      outcome = CompletableFuture.failedFuture(ex);
    }
    return outcome.handle(
        (n, error) -> {
          if (error != null) {
            redisErrors.increment();
            log.debug("fill of {} failed: {}", entryKey, unwrap(error).toString());
            return false;
          }
          if (lease != null) {
            lease.released = true;
          }
          return countFill(entryKey, loaded, n);
        });
  }

  private static Throwable unwrap(Throwable error) {
    Throwable t = error;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  long nextEntryTtlMillis() {
    return jittered(entryTtl);
  }

  private long jittered(Duration ttl) {
    double factor = 1.0 - ttlJitter * ThreadLocalRandom.current().nextDouble();
    return Math.max(1L, (long) Math.floor(ttl.toMillis() * factor));
  }

  private static Versioned await(CompletableFuture<Versioned> running, String entryKey) {
    try {
      return running.get();
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException(
          "interrupted while waiting for the load of " + entryKey, true, ex);
    } catch (ExecutionException ex) {
      Throwable cause = ex.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new InvalidatorException("load of " + entryKey + " failed: " + cause, true, cause);
    }
  }

  private static byte[] ascii(long n) {
    return Long.toString(n).getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * Checks this client's settings against those the daemon published ({@link PipelineSettings}): a
   * different fence TTL refuses to start; a different near-cache channel count (or a daemon that
   * publishes no near-cache messages) turns the near tier off with a WARN, since its invalidations
   * would arrive on channels it does not listen to. Returns the near-cache options to use.
   */
  private static NearCacheOptions agreeWithDaemon(
      RedisConnection<String, byte[]> connection,
      KeyScheme keys,
      Duration fenceTtl,
      NearCacheOptions near) {
    Map<String, byte[]> raw;
    try {
      raw = connection.sync().hgetall(keys.settings());
    } catch (RuntimeException ex) {
      log.warn(
          "could not read the daemon's settings from {}; fence TTL and near-cache channels are"
              + " not checked: {}",
          keys.settings(),
          ex.toString());
      return near;
    }
    Map<String, String> fields = new HashMap<>();
    raw.forEach((k, v) -> fields.put(k, new String(v, StandardCharsets.UTF_8)));
    PipelineSettings daemon = PipelineSettings.parse(keys.settings(), fields);
    if (daemon == null) {
      return near;
    }
    if (!daemon.fenceTtl().equals(fenceTtl)) {
      throw new IllegalStateException(
          "cache.fenceTtl ("
              + fenceTtl
              + ") differs from the daemon's cache.fenceTtl ("
              + daemon.fenceTtl()
              + ", published in "
              + keys.settings()
              + "): fences and view registries would expire at different times; set the same"
              + " value on both");
    }
    if (near != null && near.channels() != daemon.nearCacheChannels()) {
      log.warn(
          "near cache off: nearCache.channels is {} here but the daemon publishes on {} (from {});"
              + " its invalidations would never reach this tier, so reads go to Redis",
          near.channels(),
          daemon.nearCacheChannels(),
          keys.settings());
      return null;
    }
    return near;
  }

  /**
   * The one rule between the cache's lifetimes, shared by this client and the daemon's
   * configuration: a fence must live at least as long as an entry plus the longest fill, or a slow
   * fill could outlive the fence that should refuse it.
   *
   * @throws IllegalArgumentException naming {@code cache.fenceTtl} when the rule is broken
   */
  public static void checkFenceTtl(Duration entryTtl, Duration fillDeadline, Duration fenceTtl) {
    Duration minimum = entryTtl.plus(fillDeadline);
    if (fenceTtl.compareTo(minimum) < 0) {
      throw new IllegalArgumentException(
          "cache.fenceTtl ("
              + fenceTtl
              + ") must be at least cache.entryTtl + cache.fillDeadline ("
              + minimum
              + "): a fence must outlive every entry and every fill that could race it");
    }
  }

  /**
   * Settings of a {@link CacheClient}. Every setting has a default except the Redis connection;
   * {@link #build()} validates them together.
   */
  public static final class Builder {
    private RedisClient redisClient;
    private RedisClusterClient redisClusterClient;
    private String redisUrl;
    private String redisClusterUrl;
    private KeyScheme keyScheme = KeyScheme.defaults();
    private Duration entryTtl = DEFAULT_ENTRY_TTL;
    private double ttlJitter = DEFAULT_TTL_JITTER;
    private Duration fenceTtl;
    private Duration fillDeadline = DEFAULT_FILL_DEADLINE;
    private Duration negativeTtl = DEFAULT_NEGATIVE_TTL;
    private Duration fillLease = DEFAULT_FILL_LEASE;
    private Clock clock = Clock.systemUTC();
    private boolean tenantTag = true;
    private NearCacheOptions nearCache;
    private MeterRegistry meterRegistry;

    private Builder() {}

    /**
     * Whether every fill also registers its entry under the tenant tag {@code _all}, so that a
     * tenant-wide flush reaches it; default on. Costs two extra round trips per fill and one set
     * member (the entry key, about 60-120 bytes) per cached entry. Off, {@code flush --tenant}
     * without {@code --tag} reaches nothing.
     */
    public Builder tenantTag(boolean tenantTag) {
      this.tenantTag = tenantTag;
      return this;
    }

    /** Turns on the in-process tier with these settings; default off. */
    public Builder nearCache(NearCacheOptions nearCache) {
      this.nearCache = nearCache;
      return this;
    }

    /**
     * Registers {@code invalidator_fill_rejected_total} (fills refused by the fence) in {@code
     * registry}; default none. Micrometer ({@code io.micrometer:micrometer-core}) is an optional
     * dependency of {@code invalidator-client}: the application that calls this has it.
     */
    public Builder meterRegistry(MeterRegistry registry) {
      this.meterRegistry = registry;
      return this;
    }

    /** The Redis client to open the connection on; the caller keeps owning it. */
    public Builder redisClient(RedisClient redisClient) {
      this.redisClient = redisClient;
      return this;
    }

    /**
     * The Redis Cluster client to open the connections on; the caller keeps owning it. Entries,
     * fences and view registries of one aggregate share a hash tag, so every fill stays one script;
     * tag registration runs on the tenant's slot around it (DESIGN.md "Fill protocol").
     */
    public Builder redisClusterClient(RedisClusterClient redisClusterClient) {
      this.redisClusterClient = redisClusterClient;
      return this;
    }

    /**
     * A Redis Cluster's seed nodes, {@code redis://} URIs separated by commas; the cache then owns
     * its cluster client (topology refreshed periodically and adaptively, {@link
     * RedisClusterClients}) and closes it.
     */
    public Builder redisClusterUrl(String redisClusterUrl) {
      this.redisClusterUrl = redisClusterUrl;
      return this;
    }

    /** A Redis URL ({@code redis://...}); the cache then owns its client and closes it. */
    public Builder redisUrl(String redisUrl) {
      this.redisUrl = redisUrl;
      return this;
    }

    /** The key scheme; default {@link KeyScheme#defaults()}. */
    public Builder keyScheme(KeyScheme keyScheme) {
      this.keyScheme = keyScheme;
      return this;
    }

    /** How long an entry lives at most; default {@link CacheClient#DEFAULT_ENTRY_TTL}. */
    public Builder entryTtl(Duration entryTtl) {
      this.entryTtl = entryTtl;
      return this;
    }

    /**
     * The fraction in {@code [0, 1)} by which entry TTLs are randomly shortened; default {@link
     * CacheClient#DEFAULT_TTL_JITTER}.
     */
    public Builder ttlJitter(double ttlJitter) {
      this.ttlJitter = ttlJitter;
      return this;
    }

    /**
     * How long fences and view registries live; default entry TTL plus {@link
     * CacheClient#DEFAULT_FENCE_MARGIN}. Must be at least entry TTL plus fill deadline, and equal
     * to the invalidation target's fence TTL.
     */
    public Builder fenceTtl(Duration fenceTtl) {
      this.fenceTtl = fenceTtl;
      return this;
    }

    /**
     * The longest load whose value is still written; default {@link
     * CacheClient#DEFAULT_FILL_DEADLINE}.
     */
    public Builder fillDeadline(Duration fillDeadline) {
      this.fillDeadline = fillDeadline;
      return this;
    }

    /**
     * How long a cached absence ({@link Versioned#absentAt(long)}) lives at most; default {@link
     * CacheClient#DEFAULT_NEGATIVE_TTL}; at most the entry TTL. An insert announced by an event
     * removes it at once; the TTL only bounds how long a row inserted without an event stays
     * invisible.
     */
    public Builder negativeTtl(Duration negativeTtl) {
      this.negativeTtl = negativeTtl;
      return this;
    }

    /**
     * The fill lease, cross-process single flight: a miss takes a lease on its entry in Redis (in
     * the same round trip as the read) for this long; other processes that miss the same entry
     * meanwhile wait for its fill instead of loading, re-reading with backoff (2 ms doubling up to
     * 50 ms), and load themselves when the lease is released without a fill or after waiting this
     * long at most. {@link Duration#ZERO} turns it off. Default {@link
     * CacheClient#DEFAULT_FILL_LEASE}. The lease never decides what is written: every fill still
     * goes through the fence.
     */
    public Builder fillLease(Duration fillLease) {
      this.fillLease = fillLease;
      return this;
    }

    /** The clock that times loads; default the system clock. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Validates the settings and opens the connection. */
    public CacheClient build() {
      int sources =
          (redisClient != null ? 1 : 0)
              + (redisUrl != null ? 1 : 0)
              + (redisClusterClient != null ? 1 : 0)
              + (redisClusterUrl != null ? 1 : 0);
      if (sources != 1) {
        throw new IllegalArgumentException(
            "set exactly one of cache.redisClient, cache.redisUrl, cache.redisClusterClient and"
                + " cache.redisClusterUrl");
      }
      if (keyScheme == null) {
        throw new IllegalArgumentException("cache.keyScheme must be set");
      }
      requirePositive("cache.entryTtl", entryTtl);
      if (!(ttlJitter >= 0.0 && ttlJitter < 1.0)) {
        throw new IllegalArgumentException("cache.ttlJitter must be in [0, 1), got " + ttlJitter);
      }
      requirePositive("cache.fillDeadline", fillDeadline);
      requirePositive("cache.negativeTtl", negativeTtl);
      if (negativeTtl.compareTo(entryTtl) > 0) {
        throw new IllegalArgumentException(
            "cache.negativeTtl ("
                + negativeTtl
                + ") must not exceed cache.entryTtl ("
                + entryTtl
                + ")");
      }
      if (fillLease == null
          || fillLease.isNegative()
          || (!fillLease.isZero() && fillLease.toMillis() < 1)) {
        throw new IllegalArgumentException(
            "cache.fillLease must be zero (off) or at least 1 ms, got " + fillLease);
      }
      Duration fence = fenceTtl != null ? fenceTtl : entryTtl.plus(DEFAULT_FENCE_MARGIN);
      requirePositive("cache.fenceTtl", fence);
      checkFenceTtl(entryTtl, fillDeadline, fence);
      if (clock == null) {
        throw new IllegalArgumentException("cache.clock must be set");
      }
      if (redisClient != null) {
        return new CacheClient(this, RedisConnector.of(redisClient), null, fence);
      }
      if (redisClusterClient != null) {
        return new CacheClient(this, RedisConnector.of(redisClusterClient), null, fence);
      }
      RedisConnector connector;
      AbstractRedisClient owned;
      if (redisClusterUrl != null) {
        RedisClusterClient c = RedisClusterClients.create(redisClusterUrl);
        connector = RedisConnector.of(c);
        owned = c;
      } else {
        RedisClient c;
        try {
          c = RedisClient.create(redisUrl);
        } catch (RuntimeException ex) {
          // The URL itself is not repeated: it may carry a password.
          throw new IllegalArgumentException("cache.redisUrl is not a valid Redis URL", ex);
        }
        connector = RedisConnector.of(c);
        owned = c;
      }
      try {
        return new CacheClient(this, connector, owned, fence);
      } catch (RuntimeException ex) {
        owned.shutdown();
        throw ex;
      }
    }

    private static void requirePositive(String name, Duration d) {
      if (d == null || d.toMillis() < 1) {
        throw new IllegalArgumentException(name + " must be at least 1 ms, got " + d);
      }
    }
  }
}
