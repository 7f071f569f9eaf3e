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

  private final RedisConnection<String, String> connection;
  private final String stream;

  /**
   * @param connection a connection with string keys and values; shared use is fine
   * @param keys the key scheme naming the dead-letter stream
   */
  public RedisDeadLetters(RedisConnection<String, String> connection, KeyScheme keys) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.stream = Objects.requireNonNull(keys, "keys").deadLetters();
  }

  /** Like {@link #RedisDeadLetters(RedisConnection, KeyScheme)}, on a standalone connection. */
  public RedisDeadLetters(StatefulRedisConnection<String, String> connection, KeyScheme keys) {
    this(RedisConnection.of(connection), keys);
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

  /** A dead letter as stored, with its id in the dead-letter stream. */
  public record Stored(
      String id,
      String sourceId,
      String target,
      String reason,
      long attempts,
      Instant firstFailure,
      Instant lastFailure,
      String lastError,
      Map<String, String> original,
      String tenant) {
    /** The original entry's event JSON, as it was received. */
    public String event() {
      return original.get(dev.invalidator.core.StreamEntry.EVENT);
    }
  }

  /**
   * Which dead letters a command concerns; a null criterion matches everything.
   *
   * @param olderThan only dead letters whose last failure is at least this old
   */
  public record Filter(String tenant, String target, String reason, java.time.Duration olderThan) {
    public static final Filter ALL = new Filter(null, null, null, null);

    public boolean matches(Stored s, Instant now) {
      return (tenant == null || tenant.equals(s.tenant()))
          && (target == null || target.equals(s.target()))
          && (reason == null || reason.equalsIgnoreCase(s.reason()))
          && (olderThan == null
              || (s.lastFailure() != null && !s.lastFailure().isAfter(now.minus(olderThan))));
    }
  }

  private static final int PAGE = 500;

  /** Dead letters matching {@code filter}, oldest first, at most {@code limit}. */
  public java.util.List<Stored> list(Filter filter, Instant now, int limit) {
    java.util.List<Stored> out = new java.util.ArrayList<>();
    String from = "-";
    while (out.size() < limit) {
      var page =
          RedisErrors.await(
              connection
                  .async()
                  .xrange(
                      stream,
                      io.lettuce.core.Range.create(from, "+"),
                      io.lettuce.core.Limit.from(PAGE)),
              connection.getTimeout(),
              "XRANGE of " + stream);
      for (var m : page) {
        Stored st = parse(m.getId(), m.getBody());
        if (filter.matches(st, now)) {
          out.add(st);
          if (out.size() >= limit) {
            break;
          }
        }
      }
      if (page.size() < PAGE) {
        break;
      }
      from = "(" + page.get(page.size() - 1).getId();
    }
    return out;
  }

  /** One dead letter by its id in the dead-letter stream. */
  public java.util.Optional<Stored> get(String id) {
    var page =
        RedisErrors.await(
            connection.async().xrange(stream, io.lettuce.core.Range.create(id, id)),
            connection.getTimeout(),
            "XRANGE of " + stream);
    return page.isEmpty()
        ? java.util.Optional.empty()
        : java.util.Optional.of(parse(page.get(0).getId(), page.get(0).getBody()));
  }

  /**
   * Puts dead letters back on {@code targetStream} as they were received ({@code XADD}), and
   * removes each from the dead letters ({@code XDEL}) only after its new entry was added: a crash
   * in between leaves a duplicate, never a loss. Returns how many were redriven.
   */
  public int redrive(java.util.List<Stored> letters, String targetStream, Instant now) {
    int n = 0;
    for (Stored s : letters) {
      Map<String, String> fields = new LinkedHashMap<>(s.original());
      fields.put(
          dev.invalidator.core.StreamEntry.PUBLISHED_AT_MS, Long.toString(now.toEpochMilli()));
      fields.put("redriven_from", s.id());
      RedisErrors.await(
          connection.async().xadd(targetStream, fields),
          connection.getTimeout(),
          "XADD to " + targetStream);
      RedisErrors.await(
          connection.async().xdel(stream, s.id()), connection.getTimeout(), "XDEL from " + stream);
      n++;
    }
    return n;
  }

  /** Deletes dead letters for good; returns how many were deleted. */
  public long drop(java.util.List<Stored> letters) {
    if (letters.isEmpty()) {
      return 0;
    }
    return RedisErrors.await(
        connection.async().xdel(stream, letters.stream().map(Stored::id).toArray(String[]::new)),
        connection.getTimeout(),
        "XDEL from " + stream);
  }

  static Stored parse(String id, Map<String, String> f) {
    Map<String, String> original = new LinkedHashMap<>();
    f.forEach(
        (k, v) -> {
          if (k.startsWith(ORIGINAL_PREFIX)) {
            original.put(k.substring(ORIGINAL_PREFIX.length()), v);
          }
        });
    long attempts;
    try {
      attempts = Long.parseLong(f.getOrDefault("attempts", "0"));
    } catch (NumberFormatException ex) {
      attempts = 0;
    }
    return new Stored(
        id,
        f.get("source_id"),
        f.get("target"),
        f.get("reason"),
        attempts,
        instant(f.get("first_failure")),
        instant(f.get("last_failure")),
        f.get("last_error"),
        original,
        tenantOf(original.get(dev.invalidator.core.StreamEntry.EVENT)));
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /** The tenant of an event, read leniently: dead letters hold events that fail validation. */
  private static String tenantOf(String event) {
    if (event == null) {
      return null;
    }
    try {
      var n = JSON.readTree(event);
      com.fasterxml.jackson.databind.JsonNode t = n == null ? null : n.get("tenant_id");
      return t != null && t.isTextual() ? t.asText() : null;
    } catch (java.io.IOException | RuntimeException ex) {
      return null;
    }
  }

  private static Instant instant(String s) {
    if (s == null) {
      return null;
    }
    try {
      return Instant.parse(s);
    } catch (java.time.format.DateTimeParseException ex) {
      return null;
    }
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
