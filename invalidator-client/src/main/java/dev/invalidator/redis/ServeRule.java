package dev.invalidator.redis;

import java.nio.charset.StandardCharsets;

/**
 * CacheClient's serve rule, in one place so the reader ({@link CacheClient}) and the consistency
 * observer ({@code CacheInspector}, in invalidator-redis) cannot disagree: an entry is served only
 * if its {@code ver} is not older than the aggregate's fence; an absent fence admits every entry,
 * an unreadable one none.
 */
final class ServeRule {
  /** The fence value of an absent fence key. */
  static final long NO_FENCE = -1;

  private ServeRule() {}

  /** The fence from the raw reply: {@link #NO_FENCE} when absent, max when unreadable. */
  static long fence(Object rawFence) {
    if (rawFence == null) {
      return NO_FENCE;
    }
    Long parsed = decimal(rawFence);
    return parsed == null ? Long.MAX_VALUE : parsed; // an unreadable fence admits nothing
  }

  /** True when an entry at {@code ver} may be served under {@code fence}. */
  static boolean serves(long ver, long fence) {
    return ver >= fence;
  }

  /** A non-negative decimal from a raw reply, or null when it is not one. */
  static Long decimal(Object raw) {
    if (!(raw instanceof byte[] bytes) || bytes.length == 0 || bytes.length > 19) {
      return null;
    }
    for (byte b : bytes) {
      if (b < '0' || b > '9') {
        return null;
      }
    }
    try {
      return Long.parseLong(new String(bytes, StandardCharsets.US_ASCII));
    } catch (NumberFormatException ex) {
      return null;
    }
  }
}
