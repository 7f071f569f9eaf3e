package dev.invalidator.redis;

import dev.invalidator.core.KeyScheme;
import io.lettuce.core.KeyValue;
import io.lettuce.core.ScriptOutputType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The tag side of {@link CacheClient}'s fill protocol (DESIGN.md "Fill protocol" step 1 and the
 * cross-slot rule), on its own string connection:
 *
 * <ol>
 *   <li>{@link #generations} before the database read;
 *   <li>{@link #join} before {@code fill.lua}: refuses the fill if a generation moved, else adds
 *       the entry key to every tag set;
 *   <li>{@link #join} again after a written fill: the re-check. If a generation moved the caller
 *       unlinks its own entry; either way the key is (re-)added ({@link TagWalker} explains why).
 * </ol>
 *
 * Opportunistic pruning: about one join in {@value #PRUNE_ONE_IN} also removes up to {@value
 * #PRUNE_SAMPLE} members of one of its sets whose entry has expired, so a hot set whose members
 * churn stays bounded even if no invalidation ever walks it.
 */
final class TagFills implements AutoCloseable {
  static final int PRUNE_ONE_IN = 64;
  static final int PRUNE_SAMPLE = 16;

  private final RedisConnection<String, String> connection;
  private final KeyScheme keys;
  private final TagWalker walker;

  TagFills(RedisConnector connector, KeyScheme keys) {
    this.connection = connector.connect();
    this.keys = keys;
    this.walker =
        new TagWalker(
            connection,
            keys,
            Duration.ofMillis(1),
            VersionGatedRedisTarget.Options.DEFAULT_TAG_BATCH_SIZE,
            0);
  }

  /** The validated, de-duplicated tags of a fill, plus the tenant tag when asked. */
  static List<String> tagsOf(Collection<String> tags, boolean tenantTag) {
    Set<String> all = new LinkedHashSet<>();
    for (String t : tags) {
      all.add(KeyScheme.tagName(t));
    }
    if (tenantTag) {
      all.add(KeyScheme.ALL_TAG);
    }
    return List.copyOf(all);
  }

  /** The current generation of each tag ({@code ""} when absent), one round trip. */
  String[] generations(String tenant, List<String> tags) {
    String[] genKeys = new String[tags.size()];
    for (int i = 0; i < genKeys.length; i++) {
      genKeys[i] = keys.tagGeneration(tenant, tags.get(i));
    }
    List<KeyValue<String, String>> values = connection.sync().mget(genKeys);
    String[] gens = new String[genKeys.length];
    for (int i = 0; i < gens.length; i++) {
      gens[i] = values.get(i).getValueOrElse("");
    }
    return gens;
  }

  /** {@link #generations} on the asynchronous API. */
  CompletableFuture<String[]> generationsAsync(String tenant, List<String> tags) {
    String[] genKeys = new String[tags.size()];
    for (int i = 0; i < genKeys.length; i++) {
      genKeys[i] = keys.tagGeneration(tenant, tags.get(i));
    }
    return connection
        .async()
        .mget(genKeys)
        .toCompletableFuture()
        .thenApply(
            values -> {
              String[] gens = new String[genKeys.length];
              for (int i = 0; i < gens.length; i++) {
                gens[i] = values.get(i).getValueOrElse("");
              }
              return gens;
            });
  }

  /** Runs {@code tagjoin.lua}: true if every generation is unchanged and the key was added. */
  boolean join(String tenant, List<String> tags, String[] gens, String entryKey, long ttlMillis) {
    JoinCall call = joinCall(tenant, tags, gens, entryKey, ttlMillis);
    Long ok =
        LuaScript.TAG_JOIN.call(
            connection.sync(), ScriptOutputType.INTEGER, call.keys(), call.args());
    return ok != null && ok == 1L;
  }

  /** {@link #join} on the asynchronous API. */
  CompletableFuture<Boolean> joinAsync(
      String tenant, List<String> tags, String[] gens, String entryKey, long ttlMillis) {
    JoinCall call = joinCall(tenant, tags, gens, entryKey, ttlMillis);
    return LuaScript.TAG_JOIN
        .<String, String, Long>callAsync(
            connection.async(), ScriptOutputType.INTEGER, call.keys(), call.args())
        .thenApply(ok -> ok != null && ok == 1L);
  }

  private record JoinCall(String[] keys, String[] args) {}

  private JoinCall joinCall(
      String tenant, List<String> tags, String[] gens, String entryKey, long ttlMillis) {
    int n = tags.size();
    String[] scriptKeys = new String[2 * n];
    for (int i = 0; i < n; i++) {
      scriptKeys[i] = keys.tag(tenant, tags.get(i));
      scriptKeys[n + i] = keys.tagGeneration(tenant, tags.get(i));
    }
    List<String> args = new ArrayList<>(n + 2);
    args.add(entryKey);
    args.add(Long.toString(ttlMillis));
    for (String g : gens) {
      args.add(g);
    }
    return new JoinCall(scriptKeys, args.toArray(String[]::new));
  }

  /** Unlinks an entry this client wrote but a tag invalidation overtook. */
  void unlink(String entryKey) {
    connection.sync().unlink(entryKey);
  }

  /** {@link #unlink} on the asynchronous API. */
  CompletableFuture<Long> unlinkAsync(String entryKey) {
    return connection.async().unlink(entryKey).toCompletableFuture();
  }

  /** Sometimes prunes one of the sets; returns the members removed. */
  long maybePrune(String tenant, List<String> tags) {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    if (tags.isEmpty() || r.nextInt(PRUNE_ONE_IN) != 0) {
      return 0;
    }
    return walker.prune(tenant, tags.get(r.nextInt(tags.size())), PRUNE_SAMPLE);
  }

  @Override
  public void close() {
    connection.close();
  }
}
