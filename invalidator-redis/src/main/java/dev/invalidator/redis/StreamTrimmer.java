package dev.invalidator.redis;

import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.XTrimArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.models.stream.PendingMessages;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trims a stream without ever removing an entry that a consumer group still needs.
 *
 * <p>For every group the safe point is the smaller of its oldest pending entry and the first entry
 * after its last-delivered id (never delivered yet); {@code XTRIM MINID} trims to the smallest safe
 * point over all groups, exactly ({@code =}, not {@code ~}). A stream without groups is not
 * trimmed: nobody has read it yet. A group created between the survey and the trim starts at id
 * {@code 0} and reads what is left, which is the most anyone can offer it.
 */
public final class StreamTrimmer {
  private static final Logger log = LoggerFactory.getLogger(StreamTrimmer.class);

  private final RedisConnection<String, String> connection;
  private final String stream;

  public StreamTrimmer(RedisConnection<String, String> connection, String stream) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.stream = Objects.requireNonNull(stream, "stream");
  }

  /** Like {@link #StreamTrimmer(RedisConnection, String)}, on a standalone connection. */
  public StreamTrimmer(StatefulRedisConnection<String, String> connection, String stream) {
    this(RedisConnection.of(connection), stream);
  }

  /** The id below which no group needs entries, or null when nothing may be trimmed. */
  public String safeMinId() {
    var sync = connection.sync();
    if (sync.exists(stream) == 0) {
      return null;
    }
    List<Map<String, Object>> groups = XInfo.groups(sync, stream);
    if (groups.isEmpty()) {
      return null;
    }
    StreamId min = null;
    for (Map<String, Object> info : groups) {
      String name = String.valueOf(info.get("name"));
      String lastDelivered = String.valueOf(info.get("last-delivered-id"));
      StreamId safe;
      List<StreamMessage<String, String>> next =
          sync.xrange(stream, Range.create("(" + lastDelivered, "+"), Limit.from(1));
      safe =
          next.isEmpty()
              ? StreamId.parse(lastDelivered).next()
              : StreamId.parse(next.get(0).getId());
      PendingMessages pending = sync.xpending(stream, name);
      if (pending.getCount() > 0 && pending.getMessageIds() != null) {
        StreamId oldest = StreamId.parse(pending.getMessageIds().getLower().getValue());
        if (oldest.compareTo(safe) < 0) {
          safe = oldest;
        }
      }
      if (min == null || safe.compareTo(min) < 0) {
        min = safe;
      }
    }
    return min.toString();
  }

  /** Trims the stream to {@link #safeMinId()}; returns the number of entries removed. */
  public long trim() {
    try {
      String minId = safeMinId();
      if (minId == null) {
        return 0;
      }
      long removed =
          connection.sync().xtrim(stream, XTrimArgs.Builder.minId(minId).exactTrimming());
      if (removed > 0) {
        log.debug("trimmed {} entries of {} below {}", removed, stream, minId);
      }
      return removed;
    } catch (RuntimeException ex) {
      throw RedisErrors.translate("trimming " + stream, ex);
    }
  }

  /** A stream entry id {@code <ms>-<seq>}, compared numerically. */
  record StreamId(long ms, long seq) implements Comparable<StreamId> {
    static StreamId parse(String id) {
      int dash = id.indexOf('-');
      if (dash < 0) {
        return new StreamId(Long.parseUnsignedLong(id), 0);
      }
      return new StreamId(
          Long.parseUnsignedLong(id.substring(0, dash)),
          Long.parseUnsignedLong(id.substring(dash + 1)));
    }

    StreamId next() {
      return seq == -1L ? new StreamId(ms + 1, 0) : new StreamId(ms, seq + 1);
    }

    @Override
    public int compareTo(StreamId o) {
      int c = Long.compareUnsigned(ms, o.ms);
      return c != 0 ? c : Long.compareUnsigned(seq, o.seq);
    }

    @Override
    public String toString() {
      return Long.toUnsignedString(ms) + "-" + Long.toUnsignedString(seq);
    }
  }
}
