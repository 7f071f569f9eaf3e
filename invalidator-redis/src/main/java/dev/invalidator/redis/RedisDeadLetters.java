package dev.invalidator.redis;

import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.DeadLetters;
import dev.invalidator.core.KeyScheme;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Dead letters kept in the Redis stream {@code <prefix>:dlq}, one entry per dead letter.
 *
 * <p>Fields: {@code source_id}, {@code target}, {@code reason}, {@code attempts}, {@code
 * first_failure} and {@code last_failure} (ISO-8601), {@code last_error}, then every field of the
 * original stream entry prefixed {@code orig.}, so an entry can be shown and redriven as it was.
 * Credentials that an error message may carry (the user-info part of a URL, {@code password=...})
 * are masked before they are stored: the dead letters are read by people and tools that must not
 * see them.
 */
public final class RedisDeadLetters implements DeadLetters {
  /** Prefix of the fields that hold the original entry. */
  public static final String ORIGINAL_PREFIX = "orig.";

  /** Longest {@code last_error} stored, in characters. */
  public static final int MAX_ERROR_LENGTH = 4_000;

  private static final Pattern URL_CREDENTIALS =
      Pattern.compile("([A-Za-z][A-Za-z0-9+.-]*://)[^/@\\s]+@");
  private static final Pattern PASSWORD_PARAMETER =
      Pattern.compile("(?i)(pass(?:word)?|secret|token)=[^&\\s,;]+");

  private final StatefulRedisConnection<String, String> connection;
  private final String stream;

  /**
   * @param connection a connection with string keys and values; shared use is fine
   * @param keys the key scheme naming the dead-letter stream
   */
  public RedisDeadLetters(StatefulRedisConnection<String, String> connection, KeyScheme keys) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.stream = Objects.requireNonNull(keys, "keys").deadLetters();
  }

  /** The stream key dead letters are added to. */
  public String stream() {
    return stream;
  }

  /**
   * Stores a dead letter; returns once Redis acknowledged it.
   *
   * @throws dev.invalidator.core.InvalidatorException if it could not be stored (the worker then
   *     leaves the entry pending)
   */
  @Override
  public void add(DeadLetter deadLetter) {
    Map<String, String> fields = new LinkedHashMap<>();
    fields.put("source_id", deadLetter.sourceId());
    fields.put("target", deadLetter.target());
    fields.put("reason", deadLetter.reason());
    fields.put("attempts", Long.toString(deadLetter.attempts()));
    putInstant(fields, "first_failure", deadLetter.firstFailure());
    putInstant(fields, "last_failure", deadLetter.lastFailure());
    fields.put("last_error", redact(deadLetter.lastError()));
    deadLetter.original().forEach((k, v) -> fields.put(ORIGINAL_PREFIX + k, v));
    fields.values().removeIf(Objects::isNull);
    RedisErrors.await(
        connection.async().xadd(stream, fields), connection.getTimeout(), "XADD to " + stream);
  }

  /** How many dead letters are stored ({@code XLEN}); the {@code dlq_depth} gauge. */
  public long depth() {
    return RedisErrors.await(
        connection.async().xlen(stream), connection.getTimeout(), "XLEN of " + stream);
  }

  static String redact(String error) {
    if (error == null) {
      return null;
    }
    String masked = URL_CREDENTIALS.matcher(error).replaceAll("$1***@");
    masked = PASSWORD_PARAMETER.matcher(masked).replaceAll("$1=***");
    return masked.length() <= MAX_ERROR_LENGTH ? masked : masked.substring(0, MAX_ERROR_LENGTH);
  }

  private static void putInstant(Map<String, String> fields, String name, Instant instant) {
    if (instant != null) {
      fields.put(name, instant.toString());
    }
  }
}
