package dev.invalidator.redis;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.BusyException;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.ValueScanCursor;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Invalidates every member of one tag set: raises the tag generation, walks the set with {@code
 * SSCAN}, unlinks members in pipelined batches grouped by cluster slot, and removes them from the
 * set.
 *
 * <p>Design notes ("presence implies membership"). A fill creates its entry and then (re-)adds the
 * key to its tag sets ({@code tagjoin.lua} runs before and after {@code fill.lua}); whoever removes
 * a member from a set checks afterwards whether the entry exists and adds it back if so. Entry and
 * set live in different cluster slots, so neither side can do its two steps atomically, but with
 * this ordering an existing entry is never left outside its sets once both sides finished. What the
 * ordering cannot prevent is a second walk of the same set scanning while a member is briefly out
 * of it, so walks and prunes of one set are serialised by a lease ({@code taglock}); a walk that
 * cannot get it waits with backoff and, if the holder does not finish in time, fails with a {@link
 * BusyException} (the event stays pending and is redelivered, and its delivery count never
 * dead-letters it while the holder keeps its lease). Members whose entry is gone (expired) are
 * pruned as a side effect of every walk, and opportunistically by {@link #prune}.
 *
 * <p>Tenant isolation (G5): set, generation and lease keys come from {@link KeyScheme} with the
 * event's tenant; a member that does not belong to that tenant (only possible if someone wrote the
 * set by hand) is removed from the set and never unlinked.
 */
final class TagWalker implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TagWalker.class);
  private static final Duration LEASE = Duration.ofSeconds(30);
  private static final Duration PROGRESS_LOG_INTERVAL = Duration.ofSeconds(5);
  private static final Duration PROGRESS_TTL = Duration.ofHours(1);
  private static final Backoff LOCK_BACKOFF =
      new Backoff(Duration.ofMillis(20), Duration.ofSeconds(1));

  /** What one walk did. */
  record Walk(long generation, long scanned, long unlinked, long foreign) {}

  private final RedisConnection<String, String> connection;
  private final RedisConnection<String, String> batches;
  private final KeyScheme keys;
  private final Duration generationTtl;
  private final int batchSize;
  private final int nearChannels;
  private volatile Boolean standalone;

  TagWalker(
      RedisConnection<String, String> connection,
      KeyScheme keys,
      Duration generationTtl,
      int batchSize,
      int nearChannels) {
    this(connection, null, keys, generationTtl, batchSize, nearChannels);
  }

  /**
   * @param batches an owned connection with auto-flush off, used for the per-page UNLINK / SREM /
   *     EXISTS batches (one write per page instead of one per command); null to use {@code
   *     connection}
   */
  TagWalker(
      RedisConnection<String, String> connection,
      RedisConnection<String, String> batches,
      KeyScheme keys,
      Duration generationTtl,
      int batchSize,
      int nearChannels) {
    this.connection = connection;
    this.batches = batches;
    this.keys = keys;
    this.generationTtl = generationTtl;
    this.batchSize = batchSize;
    this.nearChannels = nearChannels;
  }

  /**
   * Invalidates every entry registered under {@code tag} of {@code tenant}.
   *
   * @param eventId recorded in the progress hash, so {@code flush --wait} can follow its walk
   * @throws InvalidatorException (retryable) when the set is being walked by someone else for
   *     longer than a lease, or Redis failed
   */
  Walk walk(String tenant, String tag, String eventId) {
    String set = keys.tag(tenant, tag);
    String lock = keys.tagLock(tenant, tag);
    String progress = keys.tagWalk(tenant, tag);
    RedisClusterCommands<String, String> sync = connection.sync();
    String owner = lockOrWait(sync, lock, set);
    try {
      long generation =
          Long.parseLong(
              LuaScript.TAG_BUMP.<String, String, String>call(
                  sync,
                  ScriptOutputType.VALUE,
                  new String[] {keys.tagGeneration(tenant, tag)},
                  new String[] {Long.toString(generationTtl.toMillis())}));
      long total = sync.scard(set);
      long started = System.nanoTime();
      long lastLog = started;
      long lastProgress = 0;
      long scanned = 0;
      long unlinked = 0;
      long foreign = 0;
      writeProgress(sync, progress, eventId, total, 0, 0, false);
      ScanCursor cursor = ScanCursor.INITIAL;
      do {
        ValueScanCursor<String> page = sync.sscan(set, cursor, ScanArgs.Builder.limit(batchSize));
        List<String> members = page.getValues();
        cursor = page;
        if (members.isEmpty()) {
          continue;
        }
        List<String> own = new ArrayList<>(members.size());
        String entryPrefix = keys.prefix() + ":{" + tenant + "|";
        for (String m : members) {
          if (m.startsWith(entryPrefix)) {
            own.add(m);
          }
        }
        if (own.size() < members.size()) {
          foreign += members.size() - own.size();
          log.warn(
              "tag set {} holds {} member(s) outside tenant {}: removed, not unlinked",
              set,
              members.size() - own.size(),
              tenant);
        }
        unlinked += unlinkBySlot(own);
        removeAndRestoreExisting(set, members);
        scanned += members.size();
        long now = System.nanoTime();
        if (now - lastProgress > 1_000_000_000L) {
          lastProgress = now;
          renew(sync, lock, owner, set);
          writeProgress(sync, progress, eventId, total, scanned, unlinked, false);
        }
        if (now - lastLog > PROGRESS_LOG_INTERVAL.toNanos()) {
          lastLog = now;
          log.info(
              "tag walk {}: {} of ~{} members, {} unlinked, {}/s",
              set,
              scanned,
              total,
              unlinked,
              scanned * 1_000_000_000L / Math.max(1, now - started));
        }
      } while (!cursor.isFinished());
      writeProgress(sync, progress, eventId, total, scanned, unlinked, true);
      publish(tenant, tag);
      long ms = (System.nanoTime() - started) / 1_000_000;
      if (scanned >= 10_000) {
        log.info("tag walk {} done: {} members, {} unlinked in {} ms", set, scanned, unlinked, ms);
      } else {
        log.debug("tag walk {} done: {} members, {} unlinked in {} ms", set, scanned, unlinked, ms);
      }
      return new Walk(generation, scanned, unlinked, foreign);
    } finally {
      try {
        LuaScript.UNLOCK.<String, String, Long>call(
            sync, ScriptOutputType.INTEGER, new String[] {lock}, new String[] {owner, "0"});
      } catch (RuntimeException ex) {
        log.debug("releasing {} failed (it expires): {}", lock, ex.toString());
      }
    }
  }

  /**
   * Removes up to {@code sample} random members of {@code tag}'s set whose entry is gone. Skipped
   * (returns 0) when a walk holds the set. Never removes a member whose entry exists.
   */
  long prune(String tenant, String tag, int sample) {
    String set = keys.tag(tenant, tag);
    String lock = keys.tagLock(tenant, tag);
    RedisClusterCommands<String, String> sync = connection.sync();
    String owner = UUID.randomUUID().toString();
    if (!"OK".equals(sync.set(lock, owner, SetArgs.Builder.nx().px(LEASE.toMillis())))) {
      return 0;
    }
    try {
      List<String> members = sync.srandmember(set, sample);
      RedisClusterAsyncCommands<String, String> async = connection.async();
      List<CompletableFuture<Long>> exists = new ArrayList<>(members.size());
      for (String m : members) {
        exists.add(async.exists(m).toCompletableFuture());
      }
      List<String> gone = new ArrayList<>();
      for (int i = 0; i < members.size(); i++) {
        if (await(exists.get(i)) == 0) {
          gone.add(members.get(i));
        }
      }
      if (gone.isEmpty()) {
        return 0;
      }
      removeAndRestoreExisting(set, gone);
      return gone.size();
    } finally {
      LuaScript.UNLOCK.<String, String, Long>call(
          sync, ScriptOutputType.INTEGER, new String[] {lock}, new String[] {owner, "0"});
    }
  }

  private long unlinkBySlot(List<String> members) {
    if (members.isEmpty()) {
      return 0;
    }
    RedisClusterAsyncCommands<String, String> async = batchCommands();
    List<RedisFuture<Long>> replies = new ArrayList<>();
    for (List<String> group : groups(members)) {
      replies.add(async.unlink(group.toArray(String[]::new)));
    }
    flush();
    long n = 0;
    for (RedisFuture<Long> r : replies) {
      n += await(r.toCompletableFuture());
    }
    return n;
  }

  /**
   * {@code SREM} the members, then add back every slot group in which an entry exists again: a fill
   * may have recreated one between our check and the removal ("presence implies membership").
   */
  private void removeAndRestoreExisting(String set, List<String> members) {
    RedisClusterAsyncCommands<String, String> async = batchCommands();
    // SREM before the EXISTS checks: one pipelined write, Redis runs them in order.
    CompletableFuture<Long> removed =
        async.srem(set, members.toArray(String[]::new)).toCompletableFuture();
    List<List<String>> groups = groups(members);
    List<CompletableFuture<Long>> exists = new ArrayList<>(groups.size());
    for (List<String> g : groups) {
      exists.add(async.exists(g.toArray(String[]::new)).toCompletableFuture());
    }
    flush();
    await(removed);
    List<String> back = new ArrayList<>();
    for (int i = 0; i < groups.size(); i++) {
      if (await(exists.get(i)) > 0) {
        back.addAll(groups.get(i)); // adding back a member whose entry is gone is harmless
      }
    }
    if (!back.isEmpty()) {
      CompletableFuture<Long> added =
          async.sadd(set, back.toArray(String[]::new)).toCompletableFuture();
      flush();
      await(added);
    }
  }

  private RedisClusterAsyncCommands<String, String> batchCommands() {
    return batches != null ? batches.async() : connection.async();
  }

  private void flush() {
    if (batches != null) {
      batches.stateful().flushCommands();
    }
  }

  @Override
  public void close() {
    if (batches != null) {
      batches.close();
    }
  }

  private void publish(String tenant, String tag) {
    if (nearChannels == 0) {
      return;
    }
    int shard = KeyScheme.nearShard(tenant, nearChannels);
    LuaScript.PUBLISH.<String, String, Long>call(
        connection.sync(),
        ScriptOutputType.INTEGER,
        new String[] {keys.nearSequence(shard)},
        new String[] {keys.nearChannel(shard), "t|" + tenant + "|" + tag});
  }

  private String lockOrWait(RedisClusterCommands<String, String> sync, String lock, String set) {
    String owner = UUID.randomUUID().toString();
    long deadline = System.nanoTime() + LEASE.multipliedBy(2).toNanos();
    for (int attempt = 0; ; attempt++) {
      if ("OK".equals(sync.set(lock, owner, SetArgs.Builder.nx().px(LEASE.toMillis())))) {
        return owner;
      }
      if (System.nanoTime() > deadline) {
        throw new BusyException(
            "tag set " + set + " is being walked by another worker; retrying later");
      }
      try {
        Thread.sleep(Math.max(1, LOCK_BACKOFF.delay(attempt).toMillis()));
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new InvalidatorException("interrupted waiting for " + lock, true, ex);
      }
    }
  }

  private static void renew(
      RedisClusterCommands<String, String> sync, String lock, String owner, String set) {
    Long mine =
        LuaScript.UNLOCK.call(
            sync,
            ScriptOutputType.INTEGER,
            new String[] {lock},
            new String[] {owner, Long.toString(LEASE.toMillis())});
    if (mine == null || mine != 1L) {
      log.warn("lost the walk lease of {} (a batch took longer than {}); continuing", set, LEASE);
    }
  }

  private static void writeProgress(
      RedisClusterCommands<String, String> sync,
      String key,
      String eventId,
      long total,
      long scanned,
      long unlinked,
      boolean done) {
    Map<String, String> fields = new LinkedHashMap<>();
    fields.put("event", eventId);
    fields.put("total", Long.toString(total));
    fields.put("scanned", Long.toString(scanned));
    fields.put("unlinked", Long.toString(unlinked));
    fields.put("done", done ? "1" : "0");
    sync.hset(key, fields);
    sync.pexpire(key, PROGRESS_TTL.toMillis());
  }

  /**
   * Members grouped so that each group can go into one multi-key command: by cluster slot on Redis
   * Cluster, one group on a standalone server (which accepts keys of any slots together; that is
   * what makes a large walk fast, see README "Performance").
   */
  private List<List<String>> groups(List<String> members) {
    if (standalone == null) {
      String info = connection.sync().info("cluster");
      standalone = !info.contains("cluster_enabled:1");
    }
    if (standalone) {
      return List.of(members);
    }
    return new ArrayList<>(bySlot(members).values());
  }

  static Map<Integer, List<String>> bySlot(Collection<String> members) {
    Map<Integer, List<String>> groups = new LinkedHashMap<>();
    for (String m : members) {
      groups.computeIfAbsent(SlotHash.getSlot(m), s -> new ArrayList<>()).add(m);
    }
    return groups;
  }

  private <T> T await(CompletableFuture<T> f) {
    return RedisErrors.await(f, connection.getTimeout(), "tag walk");
  }
}
