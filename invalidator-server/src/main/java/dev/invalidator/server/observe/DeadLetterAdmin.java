package dev.invalidator.server.observe;

import dev.invalidator.core.KeyScheme;
import dev.invalidator.redis.RedisConnection;
import dev.invalidator.redis.RedisDeadLetters;
import io.lettuce.core.Limit;
import io.lettuce.core.Range;
import io.lettuce.core.StreamMessage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Dead-letter operations of the admin HTTP API on the Redis transport: list, redrive (the original
 * entry goes back on the stream, then the dead letter is deleted: a crash in between redrives it
 * twice, which is harmless by version) and drop.
 */
public final class DeadLetterAdmin implements DeadLetterApi {
  private static final Pattern ID = Pattern.compile("[0-9]{1,20}-[0-9]{1,20}");

  private final RedisConnection<String, String> redis;
  private final String dlq;
  private final String stream;

  public DeadLetterAdmin(RedisConnection<String, String> redis, KeyScheme keys) {
    this.redis = Objects.requireNonNull(redis, "redis");
    this.dlq = keys.deadLetters();
    this.stream = keys.stream();
  }

  /** The oldest {@code max} dead letters, each with its id and fields. */
  @Override
  public List<Map<String, Object>> list(int max) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (StreamMessage<String, String> m :
        redis.sync().xrange(dlq, Range.create("-", "+"), Limit.from(max))) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("id", m.getId());
      row.put("fields", m.getBody());
      out.add(row);
    }
    return out;
  }

  /** Puts the original entry back on the stream; returns its new id, or null when absent. */
  @Override
  public String redrive(String id) {
    StreamMessage<String, String> m = find(id);
    if (m == null) {
      return null;
    }
    Map<String, String> original = new LinkedHashMap<>();
    m.getBody()
        .forEach(
            (k, v) -> {
              if (k.startsWith(RedisDeadLetters.ORIGINAL_PREFIX)) {
                original.put(k.substring(RedisDeadLetters.ORIGINAL_PREFIX.length()), v);
              }
            });
    if (original.isEmpty()) {
      throw new IllegalArgumentException("dead letter " + id + " holds no original entry");
    }
    String newId = redis.sync().xadd(stream, original);
    redis.sync().xdel(dlq, id);
    return newId;
  }

  /** Deletes a dead letter; returns false when absent. */
  @Override
  public boolean drop(String id) {
    return find(id) != null && redis.sync().xdel(dlq, id) > 0;
  }

  private StreamMessage<String, String> find(String id) {
    if (!ID.matcher(id).matches()) {
      throw new IllegalArgumentException("'" + id + "' is not a stream entry id (ms-seq)");
    }
    List<StreamMessage<String, String>> found =
        redis.sync().xrange(dlq, Range.create(id, id), Limit.from(1));
    return found.isEmpty() ? null : found.get(0);
  }
}
