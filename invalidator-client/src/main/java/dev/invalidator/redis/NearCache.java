package dev.invalidator.redis;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-process tier of {@link CacheClient}: a bounded Caffeine cache of aggregates' views, kept
 * fresh by the near-cache Pub/Sub channels.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li>Messages are {@code <seq>|a|<tenant>|<view-key prefix>} (an aggregate was invalidated,
 *       published by {@code invalidate.lua}), {@code <seq>|t|<tenant>|<tag>} (a tag walk finished:
 *       the tenant's entries are dropped, since this tier does not index tags) and {@code <seq>|h}
 *       (heartbeat: the channel's current number). Numbers of one channel rise by one per message.
 *   <li>Loss detection: a data message whose number is not the last plus one, or a heartbeat whose
 *       number is not the last, means something was missed: the channel's tenants are flushed. A
 *       disconnect (Lettuce's connection listener, or the connection found closed) flushes the
 *       whole tier, closes the connection and re-subscribes with exponential backoff and full
 *       jitter; no heartbeat for longer than the timeout flushes the whole tier too. While not
 *       subscribed or silent, the tier is bypassed (reads go to Redis, nothing is stored).
 *   <li>The put race: a reader reads Redis, an invalidation is applied and its message handled,
 *       then the reader stores what it read. To refuse that, every channel has an epoch, raised
 *       under the channel's write lock by every message and flush; a reader takes the epoch before
 *       it reads Redis and stores only if, under the read lock, the epoch is unchanged. A store
 *       therefore either happens before the message is handled (and the message drops it) or is
 *       refused.
 *   <li>After (re)subscribing, the tier is flushed and the first message of each channel sets its
 *       baseline: everything published after the subscription is received, so nothing between is
 *       missed.
 * </ul>
 *
 * <p>Staleness bound: an entry this tier serves was valid in Redis when stored; once an
 * invalidation of it is applied in Redis, it is served at most until its message is delivered
 * (Pub/Sub latency) or, if that message is lost, until the next message or heartbeat of its channel
 * reveals the hole (one heartbeat interval), or, if the connection dies silently, until the
 * heartbeat timeout. Never longer than the tier's TTL.
 */
final class NearCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NearCache.class);

  /** One aggregate's cached views, tagged with its tenant and channel for scoped flushes. */
  record Views(String tenant, int shard, Map<String, CacheClient.Versioned> byView) {}

  /** Why the tier (or part of it) was flushed. */
  enum Reason {
    GAP,
    RECONNECT,
    SILENCE
  }

  private final RedisConnector connector;
  private final AbstractRedisClient client;
  private final KeyScheme keys;
  private final NearCacheOptions options;
  private final LongSupplier nanoTime;
  private final Cache<String, Views> cache;
  private final Map<String, Integer> shardOfChannel = new HashMap<>();
  private final String[] channels;
  private final long[] epochs;
  private final ReentrantReadWriteLock[] locks;
  private final long[] lastSeq;
  private final Object seqLock = new Object();
  private final Semaphore wake = new Semaphore(0);
  private final Thread watchdog;
  private final RedisConnectionStateListener stateListener;

  private volatile StatefulRedisPubSubConnection<String, String> connection;
  private volatile long clientId = -1;
  private volatile boolean lost = true;
  private volatile boolean healthy;
  private volatile boolean silent;
  private volatile long lastMessageNanos;
  private volatile boolean closed;

  private final LongAdder hits = new LongAdder();
  private final LongAdder putsRefused = new LongAdder();
  private final LongAdder messages = new LongAdder();
  private final LongAdder gapFlushes = new LongAdder();
  private final LongAdder reconnectFlushes = new LongAdder();
  private final LongAdder silenceFlushes = new LongAdder();
  private final LongAdder reconnects = new LongAdder();

  NearCache(
      RedisConnector connector, KeyScheme keys, NearCacheOptions options, LongSupplier nanoTime) {
    this.connector = connector;
    this.client = connector.client();
    this.keys = keys;
    this.options = options;
    this.nanoTime = nanoTime;
    this.cache =
        Caffeine.newBuilder()
            .maximumSize(options.maximumSize())
            .expireAfterWrite(options.ttl())
            .build();
    int n = options.channels();
    this.channels = new String[n];
    this.epochs = new long[n];
    this.locks = new ReentrantReadWriteLock[n];
    this.lastSeq = new long[n];
    for (int i = 0; i < n; i++) {
      channels[i] = keys.nearChannel(i);
      shardOfChannel.put(channels[i], i);
      locks[i] = new ReentrantReadWriteLock();
      lastSeq[i] = -1;
    }
    this.stateListener =
        new RedisConnectionStateListener() {
          @Override
          public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
            if (handler == connection) {
              healthy = false;
              lost = true;
              wake.release();
            }
          }
        };
    client.addListener(stateListener);
    this.watchdog = new Thread(this::watch, "near-cache-" + keys.prefix());
    this.watchdog.setDaemon(true);
    this.watchdog.start();
  }

  /** The channel of {@code tenant}. */
  int shard(String tenant) {
    return KeyScheme.nearShard(tenant, options.channels());
  }

  /** The cached view, or null (also while the tier is bypassed). */
  CacheClient.Versioned get(String viewPrefix, String view) {
    if (!healthy) {
      return null;
    }
    Views v = cache.getIfPresent(viewPrefix);
    CacheClient.Versioned hit = v == null ? null : v.byView().get(view);
    if (hit != null) {
      hits.increment();
    }
    return hit;
  }

  /** The channel's epoch to pass to {@link #put}, taken before reading Redis; -1 if bypassed. */
  long token(int shard) {
    if (!healthy) {
      return -1;
    }
    ReentrantReadWriteLock.ReadLock l = locks[shard].readLock();
    l.lock();
    try {
      return epochs[shard];
    } finally {
      l.unlock();
    }
  }

  /** Stores a value read from Redis unless a message or flush of its channel came in between. */
  void put(
      String tenant,
      int shard,
      String viewPrefix,
      String view,
      CacheClient.Versioned value,
      long token) {
    if (token < 0) {
      return;
    }
    ReentrantReadWriteLock.ReadLock l = locks[shard].readLock();
    l.lock();
    try {
      if (!healthy || epochs[shard] != token) {
        putsRefused.increment();
        return;
      }
      cache
          .asMap()
          .compute(
              viewPrefix,
              (k, old) -> {
                Map<String, CacheClient.Versioned> m =
                    old == null ? new HashMap<>() : new HashMap<>(old.byView());
                CacheClient.Versioned present = m.get(view);
                if (present == null || present.version() < value.version()) {
                  m.put(view, value);
                }
                return new Views(tenant, shard, Map.copyOf(m));
              });
    } finally {
      l.unlock();
    }
  }

  /** Redis client id of the current subscriber connection, -1 when none (tests kill it). */
  long clientId() {
    return clientId;
  }

  boolean healthy() {
    return healthy;
  }

  long size() {
    return cache.estimatedSize();
  }

  long hits() {
    return hits.sum();
  }

  long putsRefused() {
    return putsRefused.sum();
  }

  long messages() {
    return messages.sum();
  }

  long flushes(Reason reason) {
    return switch (reason) {
      case GAP -> gapFlushes.sum();
      case RECONNECT -> reconnectFlushes.sum();
      case SILENCE -> silenceFlushes.sum();
    };
  }

  long reconnects() {
    return reconnects.sum();
  }

  @Override
  public void close() {
    closed = true;
    healthy = false;
    wake.release();
    try {
      watchdog.join(5_000);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
    client.removeListener(stateListener);
    StatefulRedisPubSubConnection<String, String> c = connection;
    if (c != null) {
      c.close();
    }
    cache.invalidateAll();
  }

  private void watch() {
    long tick = Math.max(5, Math.min(50, options.heartbeatTimeout().toMillis() / 4));
    int attempt = 0;
    while (!closed) {
      StatefulRedisPubSubConnection<String, String> c = connection;
      if (c == null || lost || !c.isOpen()) {
        if (subscribe(c)) {
          attempt = 0;
        } else {
          pause(options.reconnect().delay(attempt++).toMillis());
        }
        continue;
      }
      if (healthy
          && nanoTime.getAsLong() - lastMessageNanos > options.heartbeatTimeout().toNanos()) {
        silent = true;
        healthy = false;
        flushAll(Reason.SILENCE);
        log.warn(
            "near cache {}: no heartbeat for {}; flushed and bypassed until messages flow",
            keys.prefix(),
            options.heartbeatTimeout());
      }
      pause(tick);
    }
  }

  private boolean subscribe(StatefulRedisPubSubConnection<String, String> old) {
    healthy = false;
    if (old != null) {
      flushAll(Reason.RECONNECT);
      old.closeAsync();
      connection = null;
      clientId = -1;
    }
    StatefulRedisPubSubConnection<String, String> c = null;
    try {
      c = connector.connectPubSub();
      long id = c.sync().clientId();
      c.addListener(new Listener(c));
      synchronized (seqLock) {
        java.util.Arrays.fill(lastSeq, -1);
      }
      connection = c;
      lost = false;
      c.sync().subscribe(channels);
      if (lost || !c.isOpen()) {
        return false;
      }
      // Anything stored before the subscription was active may have missed a message.
      flushAll(null);
      clientId = id;
      lastMessageNanos = nanoTime.getAsLong();
      silent = false;
      healthy = true;
      if (old != null) {
        reconnects.increment();
        log.info("near cache {}: re-subscribed after a lost connection", keys.prefix());
      }
      return true;
    } catch (RuntimeException ex) {
      log.debug("near cache {}: subscribe failed: {}", keys.prefix(), ex.toString());
      if (c != null) {
        c.closeAsync();
      }
      connection = null;
      return false;
    }
  }

  private void onMessage(StatefulRedisPubSubConnection<String, String> from, String ch, String m) {
    if (from != connection || closed) {
      return;
    }
    Integer shard = shardOfChannel.get(ch);
    if (shard == null) {
      return;
    }
    messages.increment();
    lastMessageNanos = nanoTime.getAsLong();
    String[] parts = m.split("\\|", 4);
    long seq;
    try {
      seq = Long.parseLong(parts[0]);
    } catch (NumberFormatException ex) {
      log.warn("near cache {}: malformed message on {}: flushing its tenants", keys.prefix(), ch);
      flushShard(shard, Reason.GAP);
      return;
    }
    boolean heartbeat = parts.length == 2 && "h".equals(parts[1]);
    synchronized (seqLock) {
      long last = lastSeq[shard];
      boolean inOrder = last < 0 || (heartbeat ? seq == last : seq == last + 1);
      lastSeq[shard] = seq;
      if (!inOrder) {
        log.debug(
            "near cache {}: {} expected after {}, got {}: flushing channel {}",
            keys.prefix(),
            heartbeat ? "heartbeat" : "message",
            last,
            seq,
            shard);
        flushShard(shard, Reason.GAP);
      }
      if (!heartbeat && parts.length == 4) {
        apply(shard, parts[1], parts[2], parts[3]);
      }
    }
    if (silent && connection == from) {
      silent = false;
      healthy = true; // flushed when the silence began; nothing was stored since
    }
  }

  private void apply(int shard, String kind, String tenant, String subject) {
    ReentrantReadWriteLock.WriteLock l = locks[shard].writeLock();
    l.lock();
    try {
      epochs[shard]++;
    } finally {
      l.unlock();
    }
    if ("a".equals(kind)) {
      cache.invalidate(subject);
    } else {
      cache.asMap().values().removeIf(v -> v.tenant().equals(tenant));
    }
  }

  private void flushShard(int shard, Reason reason) {
    ReentrantReadWriteLock.WriteLock l = locks[shard].writeLock();
    l.lock();
    try {
      epochs[shard]++;
    } finally {
      l.unlock();
    }
    cache.asMap().values().removeIf(v -> v.shard() == shard);
    count(reason);
  }

  private void flushAll(Reason reason) {
    for (int i = 0; i < locks.length; i++) {
      ReentrantReadWriteLock.WriteLock l = locks[i].writeLock();
      l.lock();
      try {
        epochs[i]++;
      } finally {
        l.unlock();
      }
    }
    cache.invalidateAll();
    if (reason != null) {
      count(reason);
    }
  }

  private void count(Reason reason) {
    switch (reason) {
      case GAP -> gapFlushes.increment();
      case RECONNECT -> reconnectFlushes.increment();
      case SILENCE -> silenceFlushes.increment();
    }
  }

  private void pause(long millis) {
    try {
      if (wake.tryAcquire(Math.max(1, millis), TimeUnit.MILLISECONDS)) {
        wake.drainPermits();
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      closed = true;
    }
  }

  private final class Listener extends RedisPubSubAdapter<String, String> {
    private final StatefulRedisPubSubConnection<String, String> mine;

    Listener(StatefulRedisPubSubConnection<String, String> mine) {
      this.mine = mine;
    }

    @Override
    public void message(String channel, String message) {
      try {
        onMessage(mine, channel, message);
      } catch (RuntimeException ex) {
        log.warn("near cache {}: message handling failed; flushing", keys.prefix(), ex);
        healthy = false;
        lost = true;
        wake.release();
      }
    }
  }
}
