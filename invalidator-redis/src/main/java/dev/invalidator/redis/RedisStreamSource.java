package dev.invalidator.redis;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.EventSource;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.Consumer;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XGroupCreateArgs;
import io.lettuce.core.XPendingArgs;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.XReadArgs.StreamOffset;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.models.stream.PendingMessage;
import io.lettuce.core.models.stream.PendingMessages;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consumer of the Redis stream {@code <prefix>:stream} in a consumer group: the worker's {@link
 * EventSource}.
 *
 * <p>Design notes.
 *
 * <ul>
 *   <li>Two connections of its own: {@code XREADGROUP ... BLOCK} holds its connection for the whole
 *       block, so it gets a dedicated one; acks, claims and {@link #stats()} use the other, so a
 *       status query never waits behind a blocked read.
 *   <li>One source is one consumer, used by one worker thread; its name defaults to {@code
 *       <host>-<pid>-<n>} and must be unique in the group.
 *   <li>Fresh entries ({@code >}) are delivered for the first time: their delivery count is 1. A
 *       consumer that dies leaves its entries pending; {@link #claimAbandoned} takes them over with
 *       {@code XAUTOCLAIM} and reads their delivery counts from Redis's pending entries list
 *       ({@code XPENDING}), which {@code XAUTOCLAIM} has just incremented. The count therefore
 *       survives crashes, which is what dead-lettering after N deliveries relies on.
 *   <li>An entry deleted from the stream while pending ({@code XDEL}, a {@code MAXLEN} trim) is
 *       acknowledged when claimed, since there is nothing left to apply. Redis 7.0+ lists such ids
 *       in a third element of the {@code XAUTOCLAIM} reply; Redis 6.2 returns a nil without the id
 *       and keeps the entry pending, so on 6.2 (detected once, at build, by {@link
 *       RedisServerInfo}) the claim runs as {@code claim.lua}, which returns 7.0's reply. Likewise
 *       {@code XCLAIM} of such an entry returns a nil on 6.2 and nothing on 7.0+, which drops it
 *       from the pending list itself.
 *   <li>The group is created at id {@code 0} with {@code MKSTREAM}, so a new group starts with
 *       every entry still in the stream; if it disappears (the stream was deleted), {@link #poll}
 *       creates it again.
 * </ul>
 */
public final class RedisStreamSource implements EventSource, AutoCloseable {
  /** The default consumer group name. */
  public static final String DEFAULT_GROUP = "invalidator";

  private static final Logger log = LoggerFactory.getLogger(RedisStreamSource.class);
  private static final AtomicLong CONSUMER_SEQUENCE = new AtomicLong();
  private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final Pattern CONSUMER = Pattern.compile("[\\x21-\\x7E]{1,200}");

  private final RedisConnection<String, String> blocking;
  private final RedisConnection<String, String> commands;
  private final String stream;
  private final String group;
  private final String consumer;
  private final RedisServerInfo server;
  private String claimCursor = "0-0";
  private boolean claimWithScript;

  private RedisStreamSource(Builder b) {
    this.stream = b.shard == null ? b.keys.stream() : b.keys.stream(b.shard);
    this.group = b.group;
    this.consumer = b.consumer != null ? b.consumer : defaultConsumerName();
    this.commands = b.connect.get();
    try {
      this.blocking = b.connect.get();
    } catch (RuntimeException ex) {
      commands.close();
      throw ex;
    }
    try {
      this.server = RedisServerInfo.detect(commands).requireSupported();
    } catch (RuntimeException ex) {
      close();
      throw ex;
    }
    this.claimWithScript = !server.reportsDeletedOnClaim();
  }

  /**
   * A builder for a source reading {@code keys.stream()} through connections opened on {@code
   * client}.
   */
  public static Builder builder(RedisClient client, KeyScheme keys) {
    Objects.requireNonNull(client, "client");
    return new Builder(() -> RedisConnection.of(client.connect()), keys);
  }

  /**
   * A builder for a source reading {@code keys.stream()} on a Redis Cluster, through connections
   * opened on {@code client}: the stream is one key, so it lives on the master of its slot and
   * Lettuce routes every stream command there (following the slot when it moves).
   */
  public static Builder builder(RedisClusterClient client, KeyScheme keys) {
    Objects.requireNonNull(client, "client");
    return new Builder(() -> RedisConnection.of(client.connect()), keys);
  }

  /** A builder for a source on {@code connector}'s client, standalone or cluster. */
  public static Builder builder(RedisConnector connector, KeyScheme keys) {
    Objects.requireNonNull(connector, "connector");
    return new Builder(connector::connect, keys);
  }

  /** The stream key. */
  public String stream() {
    return stream;
  }

  @Override
  public String destination() {
    return stream;
  }

  /** The consumer group name. */
  public String group() {
    return group;
  }

  /** This consumer's name within the group. */
  public String consumer() {
    return consumer;
  }

  /** The server's version and abilities, read when the source was built. */
  public RedisServerInfo server() {
    return server;
  }

  /**
   * Creates the consumer group at id {@code 0} (and the stream, if missing). Does nothing if the
   * group exists.
   */
  public void ensureGroup() {
    try {
      commands
          .sync()
          .xgroupCreate(StreamOffset.from(stream, "0"), group, XGroupCreateArgs.Builder.mkstream());
      log.info("created consumer group {} on {}", group, stream);
    } catch (RuntimeException ex) {
      if (RedisErrors.isBusyGroup(ex)) {
        return;
      }
      throw RedisErrors.translate("XGROUP CREATE " + stream + " " + group, ex);
    }
  }

  /**
   * Reads up to {@code max} entries never delivered to the group, waiting at most {@code block} (no
   * wait when zero) on the dedicated connection.
   *
   * @throws InterruptedException when interrupted while waiting; the read may still complete on the
   *     server, leaving its entries pending for another consumer to claim
   */
  @Override
  public List<Delivery> poll(int max, Duration block) throws InterruptedException {
    if (max < 1) {
      throw new IllegalArgumentException("max must be >= 1, got " + max);
    }
    XReadArgs args = XReadArgs.Builder.count(max);
    long blockMs = 0;
    if (block != null && !block.isNegative() && !block.isZero()) {
      blockMs = Math.max(1, block.toMillis());
      args.block(blockMs);
    }
    RedisFuture<List<StreamMessage<String, String>>> reply =
        blocking.async().xreadgroup(Consumer.from(group, consumer), args, newEntries());
    List<StreamMessage<String, String>> messages;
    try {
      messages = reply.get(blockMs + blocking.getTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException ex) {
      if (RedisErrors.isNoGroup(ex)) {
        log.warn("consumer group {} on {} is missing; creating it", group, stream);
        ensureGroup();
        return List.of();
      }
      throw RedisErrors.translate("XREADGROUP on " + stream, ex);
    } catch (TimeoutException ex) {
      throw new InvalidatorException("XREADGROUP on " + stream + ": no reply", true, ex);
    }
    if (messages == null || messages.isEmpty()) {
      return List.of();
    }
    List<Delivery> out = new ArrayList<>(messages.size());
    for (StreamMessage<String, String> m : messages) {
      out.add(new Delivery(m.getId(), m.getBody(), 1));
    }
    return out;
  }

  /**
   * Takes over up to {@code max} entries pending in the group for at least {@code minIdle}, with
   * their delivery counts from Redis. Successive calls walk the pending list with {@code
   * XAUTOCLAIM}'s cursor and start again from the beginning when it wraps. Entries deleted from the
   * stream while pending are acknowledged, not returned.
   */
  @Override
  public synchronized List<Delivery> claimAbandoned(Duration minIdle, int max) {
    if (max < 1) {
      throw new IllegalArgumentException("max must be >= 1, got " + max);
    }
    long idleMs = Math.max(0, minIdle.toMillis());
    boolean script = claimWithScript;
    List<Object> reply;
    try {
      if (script) {
        reply =
            LuaScript.CLAIM.call(
                commands.sync(),
                ScriptOutputType.MULTI,
                new String[] {stream},
                new String[] {
                  group, consumer, Long.toString(idleMs), claimCursor, Integer.toString(max)
                });
      } else {
        CommandArgs<String, String> args =
            new CommandArgs<>(StringCodec.UTF8)
                .addKey(stream)
                .add(group)
                .add(consumer)
                .add(idleMs)
                .add(claimCursor)
                .add("COUNT")
                .add(max);
        reply =
            commands
                .sync()
                .dispatch(CommandType.XAUTOCLAIM, new NestedMultiOutput<>(StringCodec.UTF8), args);
      }
    } catch (RuntimeException ex) {
      if (RedisErrors.isNoGroup(ex)) {
        return List.of();
      }
      throw RedisErrors.translate((script ? "claim.lua" : "XAUTOCLAIM") + " on " + stream, ex);
    }
    claimCursor = String.valueOf(reply.get(0));
    Map<String, Map<String, String>> claimed = new LinkedHashMap<>();
    List<String> deleted = new ArrayList<>();
    if (reply.size() > 1 && reply.get(1) instanceof List<?> entries) {
      for (Object item : entries) {
        if (item instanceof List<?> entry && !entry.isEmpty()) {
          String id = String.valueOf(entry.get(0));
          if (entry.size() > 1 && entry.get(1) instanceof List<?> body) {
            claimed.put(id, fields(body));
          } else {
            deleted.add(id);
          }
        } else if (item == null && !claimWithScript) {
          // A deleted entry without its id: the server answers like 6.2 whatever its version
          // says. The entry stays pending; the script finds it when it is idle again.
          log.warn(
              "{}: XAUTOCLAIM returned a deleted entry without its id; claiming with claim.lua"
                  + " from now on",
              server);
          claimWithScript = true;
        }
      }
    }
    if (reply.size() > 2 && reply.get(2) instanceof List<?> gone) {
      gone.forEach(id -> deleted.add(String.valueOf(id)));
    }
    if (!deleted.isEmpty()) {
      log.info(
          "{} entries of {} were deleted while pending; acknowledging {}",
          deleted.size(),
          stream,
          deleted);
      ack(deleted);
    }
    if (claimed.isEmpty()) {
      return List.of();
    }
    Map<String, Long> counts = deliveryCounts(claimed.keySet());
    List<Delivery> out = new ArrayList<>(claimed.size());
    claimed.forEach(
        (id, body) -> {
          Long count = counts.get(id);
          if (count == null) {
            // Acknowledged or claimed by another consumer since: no longer ours to process.
            log.debug("claimed entry {} is no longer pending for {}", id, consumer);
          } else {
            out.add(new Delivery(id, body, count));
          }
        });
    return out;
  }

  /**
   * Takes back this consumer's failed entries whose backoff has passed. Lists this consumer's
   * pending entries idle for at least the smallest possible delay ({@code XPENDING ... IDLE}),
   * keeps those idle for longer than {@code backoff.delay(deliveries - 1, seed(id))}, and claims
   * them again with {@code XCLAIM} with that idle time as the minimum, so an entry that another
   * consumer took over in the meantime is not claimed twice. Redis increments the delivery count of
   * every claimed entry.
   */
  @Override
  public synchronized List<Delivery> claimDueRetries(Backoff backoff, int max) {
    if (max < 1) {
      throw new IllegalArgumentException("max must be >= 1, got " + max);
    }
    Consumer<String> me = Consumer.from(group, consumer);
    List<PendingMessage> pending;
    try {
      pending =
          commands
              .sync()
              .xpending(
                  stream,
                  XPendingArgs.Builder.xpending(me, Range.create("-", "+"), Limit.from(max))
                      .idle(Duration.ofMillis(1)));
    } catch (RuntimeException ex) {
      if (RedisErrors.isNoGroup(ex)) {
        return List.of();
      }
      throw RedisErrors.translate("XPENDING on " + stream, ex);
    }
    List<Delivery> out = new ArrayList<>();
    for (PendingMessage p : pending) {
      long deliveries = p.getRedeliveryCount();
      long due =
          backoff
              .delay((int) Math.min(Integer.MAX_VALUE, deliveries - 1), seed(p.getId()))
              .toMillis();
      if (p.getMsSinceLastDelivery() < due) {
        continue;
      }
      CommandArgs<String, String> args =
          new CommandArgs<>(StringCodec.UTF8)
              .addKey(stream)
              .add(group)
              .add(consumer)
              .add(Math.max(0, due))
              .add(p.getId());
      List<Object> claimed;
      try {
        claimed =
            commands
                .sync()
                .dispatch(CommandType.XCLAIM, new NestedMultiOutput<>(StringCodec.UTF8), args);
      } catch (RuntimeException ex) {
        throw RedisErrors.translate("XCLAIM on " + stream, ex);
      }
      if (claimed.isEmpty()) {
        // Taken over by another consumer, or (7.0+) deleted from the stream and dropped from the
        // pending list by Redis.
        continue;
      }
      if (claimed.get(0) instanceof List<?> entry
          && entry.size() > 1
          && entry.get(1) instanceof List<?> body) {
        out.add(new Delivery(p.getId(), fields(body), deliveries + 1));
      } else {
        ack(List.of(p.getId())); // (6.2) deleted while pending: nothing left to apply
      }
    }
    return out;
  }

  /** A stable per-entry seed for the jitter of its retries. */
  static long seed(String entryId) {
    return entryId.hashCode() * 0x9E3779B97F4A7C15L;
  }

  /** Acknowledges entries ({@code XACK}): they leave the group's pending list. */
  @Override
  public void ack(Collection<String> ids) {
    if (ids.isEmpty()) {
      return;
    }
    try {
      commands.sync().xack(stream, group, ids.toArray(String[]::new));
    } catch (RuntimeException ex) {
      throw RedisErrors.translate("XACK on " + stream, ex);
    }
  }

  /** The stream's length and the group's pending entries and lag. */
  public StreamStats stats() {
    try {
      long length = commands.sync().xlen(stream);
      PendingMessages pending;
      try {
        pending = commands.sync().xpending(stream, group);
      } catch (RuntimeException ex) {
        if (RedisErrors.isNoGroup(ex)) {
          return new StreamStats(stream, group, length, false, 0, Map.of(), null, null, -1, 0);
        }
        throw ex;
      }
      Map<String, Object> info = groupInfo();
      String oldest =
          pending.getCount() == 0 || pending.getMessageIds() == null
              ? null
              : pending.getMessageIds().getLower().getValue();
      return new StreamStats(
          stream,
          group,
          length,
          true,
          pending.getCount(),
          pending.getConsumerMessageCount() == null ? Map.of() : pending.getConsumerMessageCount(),
          oldest,
          info.get("last-delivered-id") == null
              ? null
              : String.valueOf(info.get("last-delivered-id")),
          lag(info),
          XInfo.number(info.get("consumers"), 0));
    } catch (RuntimeException ex) {
      throw RedisErrors.translate("stats of " + stream, ex);
    }
  }

  /** Largest lag counted entry by entry when Redis does not report it. */
  static final int MAX_COUNTED_LAG = 10_000;

  /**
   * The group's lag: Redis 7 reports it in XINFO GROUPS (a nil after some deletions); when there is
   * no number (Redis 6.2 has no such field) it is counted as the entries after the group's
   * last-delivered id (capped at {@link #MAX_COUNTED_LAG}). A positive reported lag is checked by
   * reading up to that many entries after the last-delivered id: Redis 7.0 reports lags that are
   * too high after the stream was moved with {@code MIGRATE} (a Redis Cluster slot migration) or
   * reloaded from its AOF (seen as lag 291 with nothing after the last-delivered id), and a lag
   * that never reaches zero would make a drained pipeline look stuck.
   */
  private long lag(Map<String, Object> info) {
    long reported = XInfo.number(info.get("lag"), -1);
    Object lastDelivered = info.get("last-delivered-id");
    if (reported == 0 || lastDelivered == null) {
      return reported;
    }
    int limit = reported > 0 ? (int) Math.min(reported, MAX_COUNTED_LAG) : MAX_COUNTED_LAG;
    List<StreamMessage<String, String>> after =
        commands.sync().xrange(stream, Range.create("(" + lastDelivered, "+"), Limit.from(limit));
    if (reported > 0 && after.size() == limit) {
      return reported; // at least as many entries as reported: the figure holds
    }
    return after.size();
  }

  /** Closes both connections. */
  @Override
  public void close() {
    try {
      blocking.close();
    } finally {
      commands.close();
    }
  }

  private Map<String, Long> deliveryCounts(Collection<String> ids) {
    RedisClusterAsyncCommands<String, String> async = commands.async();
    Consumer<String> me = Consumer.from(group, consumer);
    Map<String, RedisFuture<List<PendingMessage>>> replies = new LinkedHashMap<>();
    for (String id : ids) {
      replies.put(id, async.xpending(stream, me, Range.create(id, id), Limit.from(1)));
    }
    Map<String, Long> counts = new HashMap<>();
    for (Map.Entry<String, RedisFuture<List<PendingMessage>>> e : replies.entrySet()) {
      List<PendingMessage> p =
          RedisErrors.await(e.getValue(), commands.getTimeout(), "XPENDING on " + stream);
      if (!p.isEmpty()) {
        counts.put(e.getKey(), p.get(0).getRedeliveryCount());
      }
    }
    return counts;
  }

  private Map<String, Object> groupInfo() {
    return XInfo.group(commands.sync(), stream, group);
  }

  private static Map<String, String> fields(List<?> flat) {
    Map<String, String> out = new LinkedHashMap<>();
    for (int i = 0; i + 1 < flat.size(); i += 2) {
      Object value = flat.get(i + 1);
      if (value != null) {
        out.put(String.valueOf(flat.get(i)), String.valueOf(value));
      }
    }
    return out;
  }

  @SuppressWarnings("unchecked") // a one-element generic array for Lettuce's varargs parameter
  private StreamOffset<String>[] newEntries() {
    return (StreamOffset<String>[]) new StreamOffset<?>[] {StreamOffset.lastConsumed(stream)};
  }

  private static String defaultConsumerName() {
    String host = System.getenv("HOSTNAME");
    if (host == null || host.isBlank()) {
      try {
        host = java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.net.UnknownHostException ex) {
        host = "localhost";
      }
    }
    String name =
        host + "-" + ProcessHandle.current().pid() + "-" + CONSUMER_SEQUENCE.incrementAndGet();
    return name.replaceAll("[^\\x21-\\x7E]", "_");
  }

  /** Settings of a {@link RedisStreamSource}; {@link #build()} validates them. */
  public static final class Builder {
    private final Supplier<RedisConnection<String, String>> connect;
    private final KeyScheme keys;
    private String group = DEFAULT_GROUP;
    private String consumer;
    private Integer shard;

    private Builder(Supplier<RedisConnection<String, String>> connect, KeyScheme keys) {
      this.connect = connect;
      this.keys = Objects.requireNonNull(keys, "keys");
    }

    /** The consumer group; default {@value RedisStreamSource#DEFAULT_GROUP}. */
    public Builder group(String group) {
      this.group = group;
      return this;
    }

    /** This consumer's name, unique in the group; default {@code <host>-<pid>-<n>}. */
    public Builder consumer(String consumer) {
      this.consumer = consumer;
      return this;
    }

    /**
     * Reads the shard stream {@code <prefix>:stream:<shard>} instead of {@code <prefix>:stream}.
     */
    public Builder shard(int shard) {
      if (shard < 0) {
        throw new IllegalArgumentException("stream.shard must be >= 0, got " + shard);
      }
      this.shard = shard;
      return this;
    }

    /** Validates the settings and opens the source's two connections. */
    public RedisStreamSource build() {
      if (group == null || !GROUP.matcher(group).matches()) {
        throw new IllegalArgumentException(
            "stream.group must be 1-64 characters of letters, digits, '.', '_' or '-', got "
                + group);
      }
      if (consumer != null && !CONSUMER.matcher(consumer).matches()) {
        throw new IllegalArgumentException(
            "stream.consumer must be 1-200 printable characters without spaces, got " + consumer);
      }
      return new RedisStreamSource(this);
    }
  }
}
