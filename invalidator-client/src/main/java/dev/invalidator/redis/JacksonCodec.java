package dev.invalidator.redis;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.util.Objects;

/**
 * A {@link CacheCodec} that stores values as JSON with Jackson. Built from the application's {@link
 * ObjectMapper} (so its modules and naming apply) or a plain one; the readers and writers are
 * prepared once and are thread-safe.
 *
 * @param <T> the value type
 */
public final class JacksonCodec<T> implements CacheCodec<T> {
  private final ObjectReader reader;
  private final ObjectWriter writer;
  private final JavaType type;

  private JacksonCodec(ObjectMapper mapper, JavaType type) {
    this.type = type;
    this.reader = mapper.readerFor(type);
    this.writer = mapper.writerFor(type);
  }

  /** JSON of {@code type} with a plain {@link ObjectMapper} (records, beans, collections). */
  public static <T> JacksonCodec<T> of(Class<T> type) {
    return of(new ObjectMapper(), type);
  }

  /** JSON of {@code type} with the application's {@code mapper}. */
  public static <T> JacksonCodec<T> of(ObjectMapper mapper, Class<T> type) {
    Objects.requireNonNull(mapper, "mapper");
    Objects.requireNonNull(type, "type");
    return new JacksonCodec<>(mapper, mapper.constructType(type));
  }

  /** JSON of a generic type ({@code new TypeReference<List<Item>>() {}}). */
  public static <T> JacksonCodec<T> of(ObjectMapper mapper, TypeReference<T> type) {
    Objects.requireNonNull(mapper, "mapper");
    Objects.requireNonNull(type, "type");
    return new JacksonCodec<>(mapper, mapper.constructType(type));
  }

  @Override
  public byte[] encode(T value) throws Exception {
    return writer.writeValueAsBytes(value);
  }

  @Override
  public T decode(byte[] bytes) throws Exception {
    return reader.readValue(bytes);
  }

  @Override
  public String toString() {
    return "JacksonCodec[" + type + "]";
  }
}
