package dev.invalidator.kafka;

import java.util.Map;
import java.util.TreeMap;

/**
 * The delivery counts of a partition's retried records, kept in the metadata string of the group's
 * committed offset for that partition: {@code a1:<offset>=<deliveries>,...}, lowest offsets first.
 *
 * <p>Why there: the commit point never passes an unacknowledged record, so every record that still
 * needs its count is at or after the committed offset, which is exactly where a new owner of the
 * partition starts reading; the counts are written atomically with the offset, need no topic of
 * their own, and disappear with the next commit once the record is acknowledged. The broker bounds
 * the metadata ({@code offset.metadata.max.bytes}, 4096 by default), so at most {@link #MAX_CHARS}
 * characters are written: counts of the lowest offsets first (the ones holding the commit point);
 * {@link #encode} reports how many did not fit.
 */
final class AttemptCounts {
  static final String PREFIX = "a1:";
  static final int MAX_CHARS = 3_000;

  private AttemptCounts() {}

  /** The result of {@link #encode}: the metadata string and how many counts were left out. */
  record Encoded(String metadata, int omitted) {}

  static Encoded encode(Map<Long, Long> counts) {
    StringBuilder sb = new StringBuilder(PREFIX);
    int omitted = 0;
    boolean first = true;
    for (Map.Entry<Long, Long> e : new TreeMap<>(counts).entrySet()) {
      String item = e.getKey() + "=" + e.getValue();
      if (sb.length() + item.length() + 1 > MAX_CHARS) {
        omitted++;
        continue;
      }
      if (!first) {
        sb.append(',');
      }
      sb.append(item);
      first = false;
    }
    return new Encoded(counts.isEmpty() ? "" : sb.toString(), omitted);
  }

  /** Parses metadata written by {@link #encode}; anything else (another tool's text) is empty. */
  static Map<Long, Long> decode(String metadata) {
    Map<Long, Long> out = new TreeMap<>();
    if (metadata == null || !metadata.startsWith(PREFIX)) {
      return out;
    }
    for (String item : metadata.substring(PREFIX.length()).split(",")) {
      int eq = item.indexOf('=');
      if (eq <= 0) {
        continue;
      }
      try {
        long offset = Long.parseLong(item.substring(0, eq));
        long count = Long.parseLong(item.substring(eq + 1));
        if (offset >= 0 && count > 0) {
          out.put(offset, count);
        }
      } catch (NumberFormatException ex) {
        // one bad item does not void the others
      }
    }
    return out;
  }
}
