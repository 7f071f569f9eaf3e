package dev.invalidator.core;

import java.util.regex.Pattern;

/**
 * The only place Redis keys are built. Format (DESIGN.md "Keys and entries in Redis"):
 *
 * <pre>
 *   entry   &lt;prefix&gt;:{&lt;tenant&gt;|&lt;type&gt;|&lt;id&gt;}:v:&lt;view&gt;   HASH ver, val (or abs)
 *   fence   &lt;prefix&gt;:{&lt;tenant&gt;|&lt;type&gt;|&lt;id&gt;}:fence      highest announced version
 *   views   &lt;prefix&gt;:{&lt;tenant&gt;|&lt;type&gt;|&lt;id&gt;}:views      SET of filled view names
 *   lease   &lt;prefix&gt;:{&lt;tenant&gt;|&lt;type&gt;|&lt;id&gt;}:lease:&lt;view&gt; owner of the running fill
 *   tag     &lt;prefix&gt;:{&lt;tenant&gt;}:tag:&lt;tag&gt;                  SET of entry keys
 *   taggen  &lt;prefix&gt;:{&lt;tenant&gt;}:taggen:&lt;tag&gt;               generation counter
 *   walk    &lt;prefix&gt;:{&lt;tenant&gt;}:tagwalk:&lt;tag&gt;              HASH progress of a tag walk
 *   lock    &lt;prefix&gt;:{&lt;tenant&gt;}:taglock:&lt;tag&gt;              owner of the running walk
 *   near    &lt;prefix&gt;:nc:&lt;n&gt; (Pub/Sub channel), &lt;prefix&gt;:nc:seq:&lt;n&gt; (its sequence)
 *   stream  &lt;prefix&gt;:stream (or &lt;prefix&gt;:stream:&lt;n&gt;), dead letters &lt;prefix&gt;:dlq
 *   settings &lt;prefix&gt;:settings   HASH the daemon's fence TTL and near-cache channels
 * </pre>
 *
 * The braces are a Redis Cluster hash tag, so an aggregate's entries, fence and view registry share
 * one slot and one Lua script can change them atomically. Every identifier is validated by {@link
 * Identifiers} before it becomes part of a key, so no input can produce a key of another tenant.
 */
public final class KeyScheme {
  /** The default key prefix. */
  public static final String DEFAULT_PREFIX = "inv";

  /**
   * The implicit tag every fill registers its entry under (unless the client turns it off), so a
   * tenant-wide flush is a tag invalidation of this tag.
   */
  public static final String ALL_TAG = "_all";

  private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._-]{1,32}");

  private final String prefix;

  public KeyScheme(String prefix) {
    if (prefix == null || !PREFIX.matcher(prefix).matches()) {
      throw new InvalidEventException(
          "redis.prefix", "must be 1-32 characters of letters, digits, '.', '_' or '-'");
    }
    this.prefix = prefix;
  }

  public static KeyScheme defaults() {
    return new KeyScheme(DEFAULT_PREFIX);
  }

  public String prefix() {
    return prefix;
  }

  /** The hash-tagged base of an aggregate's keys: {@code <prefix>:{<tenant>|<type>|<id>}}. */
  public String aggregateBase(AggregateRef ref) {
    return prefix + ":{" + ref.tenantId() + "|" + ref.type() + "|" + ref.id() + "}";
  }

  public String entry(AggregateRef ref, String view) {
    return viewPrefix(ref) + view(view);
  }

  /** The part of an entry key before the view name; the Lua scripts append view names to it. */
  public String viewPrefix(AggregateRef ref) {
    return aggregateBase(ref) + ":v:";
  }

  public String fence(AggregateRef ref) {
    return aggregateBase(ref) + ":fence";
  }

  public String views(AggregateRef ref) {
    return aggregateBase(ref) + ":views";
  }

  /**
   * The lease of a running fill of one view: the cross-process single flight of {@code
   * CacheClient}, in the aggregate's slot.
   */
  public String fillLease(AggregateRef ref, String view) {
    return aggregateBase(ref) + ":lease:" + view(view);
  }

  public String tag(String tenantId, String tag) {
    return prefix + ":{" + Identifiers.tenant(tenantId) + "}:tag:" + tagName(tag);
  }

  public String tagGeneration(String tenantId, String tag) {
    return prefix + ":{" + Identifiers.tenant(tenantId) + "}:taggen:" + tagName(tag);
  }

  /** Progress of the latest walk of a tag set (a HASH the worker updates, {@code flush --wait}). */
  public String tagWalk(String tenantId, String tag) {
    return prefix + ":{" + Identifiers.tenant(tenantId) + "}:tagwalk:" + tagName(tag);
  }

  /** The lease that serialises walks and prunes of one tag set. */
  public String tagLock(String tenantId, String tag) {
    return prefix + ":{" + Identifiers.tenant(tenantId) + "}:taglock:" + tagName(tag);
  }

  /** The near-cache Pub/Sub channel {@code shard} (0-based). */
  public String nearChannel(int shard) {
    return prefix + ":nc:" + requireShard(shard);
  }

  /** The sequence counter of near-cache channel {@code shard}. */
  public String nearSequence(int shard) {
    return prefix + ":nc:seq:" + requireShard(shard);
  }

  /**
   * The near-cache channel of {@code tenantId} among {@code channels}: a stable hash (CRC16, as
   * Redis Cluster uses for slots) so every process maps a tenant to the same channel.
   */
  public static int nearShard(String tenantId, int channels) {
    if (channels < 1) {
      throw new IllegalArgumentException("channels must be >= 1, got " + channels);
    }
    byte[] b = Identifiers.tenant(tenantId).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    int crc = 0;
    for (byte x : b) {
      crc ^= (x & 0xff) << 8;
      for (int i = 0; i < 8; i++) {
        crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
      }
      crc &= 0xffff;
    }
    return crc % channels;
  }

  private static int requireShard(int shard) {
    if (shard < 0) {
      throw new IllegalArgumentException("shard must be >= 0, got " + shard);
    }
    return shard;
  }

  public String stream() {
    return prefix + ":stream";
  }

  public String stream(int shard) {
    if (shard < 0) {
      throw new IllegalArgumentException("shard must be >= 0, got " + shard);
    }
    return prefix + ":stream:" + shard;
  }

  public String deadLetters() {
    return prefix + ":dlq";
  }

  /**
   * Failure record of a stream entry: when it first failed, so a dead letter can say since when.
   */
  public String failure(String entryId) {
    return prefix + ":failed:" + Identifiers.require("entry_id", entryId, 64);
  }

  /** Processed-event record of an event on a target that is not version-gated (idempotency). */
  public String processed(String target, java.util.UUID eventId) {
    return prefix + ":done:" + Identifiers.require("target", target, 64) + ":" + eventId;
  }

  /**
   * Marker the daemon writes when it sets up the stream: its disappearance means Redis lost data (a
   * restart without persistence, a failover to a replica that lagged).
   */
  public String epoch() {
    return prefix + ":epoch";
  }

  /**
   * The settings the daemon publishes for its clients to check against ({@code cache.fenceTtl},
   * {@code nearCache.channels}).
   */
  public String settings() {
    return prefix + ":settings";
  }

  /** True if {@code key} belongs to {@code tenantId} under this scheme. */
  public boolean belongsTo(String key, String tenantId) {
    return key.startsWith(prefix + ":{" + tenantId + "|")
        || key.startsWith(prefix + ":{" + tenantId + "}");
  }

  /**
   * An entry key taken apart: the aggregate and the view it caches.
   *
   * @param aggregate the aggregate, validated like every identifier
   * @param view the view name
   */
  public record EntryKey(AggregateRef aggregate, String view) {}

  /**
   * Parses an entry key of this scheme ({@code <prefix>:{<tenant>|<type>|<id>}:v:<view>}); empty
   * for any other key, or one whose parts are not valid identifiers.
   */
  public java.util.Optional<EntryKey> parseEntry(String key) {
    String start = prefix + ":{";
    int close = key.indexOf("}:v:");
    if (!key.startsWith(start) || close < start.length()) {
      return java.util.Optional.empty();
    }
    String[] parts = key.substring(start.length(), close).split("\\|", -1);
    if (parts.length != 3) {
      return java.util.Optional.empty();
    }
    try {
      AggregateRef ref = new AggregateRef(parts[0], parts[1], parts[2]);
      String view = view(key.substring(close + 4));
      return java.util.Optional.of(new EntryKey(ref, view));
    } catch (InvalidEventException e) {
      return java.util.Optional.empty();
    }
  }

  /**
   * A {@code SCAN MATCH} pattern for the entry keys of {@code tenantId} and {@code type} (either
   * null for any). Identifiers contain no glob characters, so the pattern matches only them.
   */
  public String entryPattern(String tenantId, String type) {
    String t = tenantId == null ? "*" : Identifiers.tenant(tenantId);
    String ty = type == null ? "*" : Identifiers.require("aggregate_type", type, 128);
    return prefix + ":{" + t + "|" + ty + "|*}:v:*";
  }

  public static String view(String view) {
    return Identifiers.require("view", view, Identifiers.MAX_IDENTIFIER_LENGTH);
  }

  public static String tagName(String tag) {
    return Identifiers.require("tag", tag, Identifiers.MAX_IDENTIFIER_LENGTH);
  }
}
