package dev.invalidator.redis;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.Target;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

/**
 * Makes a target that is not version-gated (a counter, a projection, a webhook) safe against the
 * duplicates that at-least-once delivery brings: a processed-event record per event id and target
 * ({@code <prefix>:done:<target>:<event id>}, with a TTL) is read before the side effect and
 * written after it succeeded. An event whose record exists is answered {@link
 * ApplyResult#DUPLICATE} without calling the target, and so is a second copy of an event within one
 * batch once the first copy succeeded; those answers are the dedupe hits (the worker reports them
 * to its listener, which counts {@code invalidator_dedupe_hits_total{target}}).
 *
 * <p>Design note. Check and record are two steps around the side effect, not one transaction: a
 * crash after the side effect and before the record still repeats it once. That window is the apply
 * of one batch; closing it needs the target's own cooperation (writing the record in the same
 * transaction as the side effect). The TTL bounds the records kept; it must outlive the longest
 * time an entry can be redelivered (retries plus dead-letter redrive), default 24 h.
 */
public final class IdempotentTarget implements Target {
  /** Default lifetime of a processed-event record. */
  public static final Duration DEFAULT_TTL = Duration.ofHours(24);

  private final Target delegate;
  private final RedisConnection<String, String> connection;
  private final KeyScheme keys;
  private final Duration ttl;

  public IdempotentTarget(
      Target delegate, RedisConnection<String, String> connection, KeyScheme keys, Duration ttl) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
    this.connection = Objects.requireNonNull(connection, "connection");
    this.keys = Objects.requireNonNull(keys, "keys");
    this.ttl = Objects.requireNonNull(ttl, "ttl");
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("idempotency TTL must be positive, got " + ttl);
    }
  }

  /**
   * Like {@link #IdempotentTarget(Target, RedisConnection, KeyScheme, Duration)}, on a standalone
   * connection.
   */
  public IdempotentTarget(
      Target delegate,
      StatefulRedisConnection<String, String> connection,
      KeyScheme keys,
      Duration ttl) {
    this(delegate, RedisConnection.of(connection), keys, ttl);
  }

  @Override
  public String name() {
    return delegate.name();
  }

  @Override
  public List<ApplyResult> apply(List<InvalidationEvent> events) {
    if (events.isEmpty()) {
      return List.of();
    }
    String[] recordKeys = new String[events.size()];
    for (int i = 0; i < events.size(); i++) {
      recordKeys[i] = keys.processed(delegate.name(), events.get(i).eventId());
    }
    // One slot per key in a cluster: read them one by one, pipelined.
    List<CompletableFuture<Long>> exists = new ArrayList<>(events.size());
    var async = connection.async();
    for (String k : recordKeys) {
      exists.add(async.exists(k).toCompletableFuture());
    }
    ApplyResult[] out = new ApplyResult[events.size()];
    List<InvalidationEvent> fresh = new ArrayList<>();
    List<Integer> freshIndex = new ArrayList<>();
    // A second copy of an event in the same batch (a republished entry read together with the
    // original) has no record yet either: it shares the first copy's apply instead of repeating it.
    Map<UUID, Integer> firstCopy = new HashMap<>();
    int[] copyOf = new int[events.size()];
    Arrays.fill(copyOf, -1);
    for (int i = 0; i < events.size(); i++) {
      Long n = RedisErrors.await(exists.get(i), connection.getTimeout(), "EXISTS " + recordKeys[i]);
      if (n != null && n > 0) {
        out[i] = ApplyResult.DUPLICATE;
        continue;
      }
      Integer first = firstCopy.putIfAbsent(events.get(i).eventId(), i);
      if (first != null) {
        copyOf[i] = first;
      } else {
        fresh.add(events.get(i));
        freshIndex.add(i);
      }
    }
    if (!fresh.isEmpty()) {
      List<ApplyResult> results = delegate.apply(fresh);
      List<CompletableFuture<String>> writes = new ArrayList<>();
      for (int j = 0; j < fresh.size(); j++) {
        int i = freshIndex.get(j);
        out[i] = results.get(j);
        if (results.get(j).succeeded()) {
          writes.add(async.set(recordKeys[i], "1", SetArgs.Builder.px(ttl)).toCompletableFuture());
        }
      }
      RedisErrors.await(
          CompletableFuture.allOf(writes.toArray(CompletableFuture<?>[]::new)),
          connection.getTimeout(),
          "SET processed-event records");
    }
    for (int i = 0; i < events.size(); i++) {
      if (copyOf[i] >= 0) {
        ApplyResult first = out[copyOf[i]];
        out[i] = first.succeeded() ? ApplyResult.DUPLICATE : first;
      }
    }
    return List.of(out);
  }
}
