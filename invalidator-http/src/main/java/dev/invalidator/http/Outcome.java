package dev.invalidator.http;

import java.time.Duration;

/**
 * What became of one HTTP request, classified once for every HTTP target: the one place where a
 * status code or an I/O error is judged retryable or permanent.
 *
 * @param status the HTTP status, or 0 when there was no response
 * @param message for errors and dead letters: status and the provider's error body, trimmed
 * @param retryAfter for {@link Kind#RATE_LIMITED}, how long the provider asked us to wait
 * @param body the response body, trimmed; empty when there was no response
 */
record Outcome(Kind kind, int status, String message, Duration retryAfter, String body) {
  /** The classes of outcome, from best to worst for the events concerned. */
  enum Kind {
    /** 2xx. */
    SUCCESS,
    /** No response at all: connection refused or reset, a timeout. The target is unreachable. */
    UNREACHABLE,
    /** 5xx, 408, 425: the provider answered but may succeed later. */
    RETRYABLE,
    /** 429, or our own bucket had no token in time: retry after {@link #retryAfter}. */
    RATE_LIMITED,
    /** Any other 4xx: retrying the same request fails the same way. */
    PERMANENT
  }

  /** The longest error body kept in a message. */
  static final int MAX_BODY_CHARS = 512;

  boolean success() {
    return kind == Kind.SUCCESS;
  }

  /** The provider answered 429 (not our own bucket giving no token): its wait is advertised. */
  boolean throttledByProvider() {
    return kind == Kind.RATE_LIMITED && status == 429;
  }

  boolean retryable() {
    return kind != Kind.PERMANENT;
  }

  /** The worse of two outcomes for an event concerned by both; null counts as success. */
  static Outcome worse(Outcome a, Outcome b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    return b.kind.compareTo(a.kind) > 0 ? b : a;
  }

  /** A body fit for a log line or a dead letter: one line, no control characters, bounded. */
  static String trim(String body) {
    if (body == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder(Math.min(body.length(), MAX_BODY_CHARS) + 3);
    boolean space = false;
    int i = 0;
    for (; i < body.length() && sb.length() < MAX_BODY_CHARS; i++) {
      char c = body.charAt(i);
      if (Character.isWhitespace(c) || Character.isISOControl(c)) {
        space = sb.length() > 0;
        continue;
      }
      if (space) {
        sb.append(' ');
        space = false;
      }
      sb.append(c);
    }
    if (i < body.length() && !body.substring(i).isBlank()) {
      sb.append("...");
    }
    return sb.toString();
  }
}
