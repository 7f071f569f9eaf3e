package dev.invalidator.redis;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Reads, without changing anything, what a {@link CacheClient} reader would be served for an
 * aggregate: every view's entry version and whether {@link CacheClient}'s serve rule ({@code ver >=
 * fence}, the same {@link ServeRule}) lets it through. The consistency observer and {@code
 * invalidator verify} compare that with the database.
 *
 * <p>Cost per {@link #inspect}: two round trips ({@code SMEMBERS} of the view registry, then one
 * script that reads the fence and every view in the aggregate's slot at one instant).
 *
 * <p>It sees only Redis. A near cache lives in each application process; the daemon that runs the
 * observer has none, so a near-cache tier is not inspected (see README, "Consistency observer").
 *
 * <p>Thread-safe (one connection, Lettuce multiplexes it).
 */
public final class CacheInspector implements AutoCloseable {
  private final RedisConnection<String, byte[]> connection;
  private final KeyScheme keys;

  /**
   * One cached view of an aggregate.
   *
   * @param view the view name
   * @param version the entry's {@code ver}
   * @param servable whether {@link CacheClient} would serve it (not older than the fence)
   */
  public record View(String view, long version, boolean servable) {}

  /**
   * What Redis holds for an aggregate, read at one instant.
   *
   * @param aggregate the aggregate
   * @param fence the fence, or -1 when there is none
   * @param views the views present (entries with a readable version), in name order
   */
  public record Served(AggregateRef aggregate, long fence, List<View> views) {
    public Served {
      views = List.copyOf(views);
    }

    /** The lowest version a reader could be served, or empty when no view is servable. */
    public OptionalLong oldestServable() {
      return views.stream().filter(View::servable).mapToLong(View::version).min();
    }

    /** The servable views older than {@code version}: what a reader would be served stale. */
    public List<View> servableOlderThan(long version) {
      return views.stream().filter(v -> v.servable() && v.version() < version).toList();
    }
  }

  private CacheInspector(RedisConnection<String, byte[]> connection, KeyScheme keys) {
    this.connection = connection;
    this.keys = keys;
  }

  /** Opens a connection of its own on {@code client}; the caller keeps owning the client. */
  public static CacheInspector create(RedisClient client, KeyScheme keys) {
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(keys, "keys");
    return create(RedisConnector.of(client), keys);
  }

  /** An inspector on {@code connector}'s client (standalone or cluster). */
  public static CacheInspector create(RedisConnector connector, KeyScheme keys) {
    Objects.requireNonNull(connector, "connector");
    Objects.requireNonNull(keys, "keys");
    return new CacheInspector(
        connector.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE)), keys);
  }

  /**
   * What a reader would be served for {@code ref}: the views in its registry plus {@code
   * extraViews} (an event's views, or an entry found by a scan).
   *
   * @throws io.lettuce.core.RedisException when Redis fails
   */
  public Served inspect(AggregateRef ref, Collection<String> extraViews) {
    RedisClusterCommands<String, byte[]> redis = connection.sync();
    TreeSet<String> views = new TreeSet<>();
    for (byte[] member : redis.smembers(keys.views(ref))) {
      views.add(new String(member, StandardCharsets.UTF_8));
    }
    for (String v : extraViews) {
      views.add(KeyScheme.view(v));
    }
    List<String> names = new ArrayList<>(views);
    String[] scriptKeys = new String[names.size() + 1];
    scriptKeys[0] = keys.fence(ref);
    for (int i = 0; i < names.size(); i++) {
      scriptKeys[i + 1] = keys.entry(ref, names.get(i));
    }
    List<Object> reply =
        LuaScript.INSPECT.call(redis, ScriptOutputType.MULTI, scriptKeys, new byte[0][]);
    long fence = ServeRule.fence(reply.get(0));
    List<View> out = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      Long ver = i + 1 < reply.size() ? ServeRule.decimal(reply.get(i + 1)) : null;
      if (ver != null) {
        out.add(new View(names.get(i), ver, ServeRule.serves(ver, fence)));
      }
    }
    return new Served(ref, fence, out);
  }

  /**
   * A cache entry picked at random ({@code RANDOMKEY}, up to {@code tries} times until a key is an
   * entry of this scheme); empty when none was found. On a Redis shared with other data most random
   * keys may be something else: then this finds fewer entries than asked, never wrong ones.
   */
  public Optional<KeyScheme.EntryKey> randomEntry(int tries) {
    RedisClusterCommands<String, byte[]> redis = connection.sync();
    for (int i = 0; i < tries; i++) {
      String key = redis.randomkey();
      if (key == null) {
        return Optional.empty();
      }
      Optional<KeyScheme.EntryKey> entry = keys.parseEntry(key);
      if (entry.isPresent()) {
        return entry;
      }
    }
    return Optional.empty();
  }

  /**
   * Walks the entry keys of {@code tenantId} and {@code type} (null for any) with {@code SCAN},
   * {@code count} keys per page, handing each to {@code each} until it has seen {@code limit}.
   *
   * @return the number of entries handed over
   */
  public long scanEntries(
      String tenantId, String type, long limit, int count, Consumer<KeyScheme.EntryKey> each) {
    RedisClusterCommands<String, byte[]> redis = connection.sync();
    ScanArgs args = ScanArgs.Builder.matches(keys.entryPattern(tenantId, type)).limit(count);
    ScanCursor cursor = ScanCursor.INITIAL;
    long seen = 0;
    do {
      var page = redis.scan(cursor, args);
      for (String key : page.getKeys()) {
        Optional<KeyScheme.EntryKey> entry = keys.parseEntry(key);
        if (entry.isPresent()) {
          each.accept(entry.get());
          if (++seen >= limit) {
            return seen;
          }
        }
      }
      cursor = page;
    } while (!cursor.isFinished());
    return seen;
  }

  /** The key scheme it reads. */
  public KeyScheme keyScheme() {
    return keys;
  }

  @Override
  public void close() {
    connection.close();
  }
}
