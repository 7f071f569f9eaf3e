package dev.invalidator.redis;

/**
 * Turns values of type {@code T} into the bytes {@link CacheClient} stores, and back. Used through
 * {@link CacheClient#typed(CacheCodec)}; versions never go through a codec, they stay explicit.
 *
 * <p>Implementations must be thread-safe, and {@code decode(encode(v))} must equal {@code v} as far
 * as readers care. {@link JacksonCodec} stores JSON; {@link #utf8()} and {@link #bytes()} cover
 * strings and raw bytes.
 *
 * @param <T> the value type
 */
public interface CacheCodec<T> {
  /** The bytes stored for {@code value} (never null). */
  byte[] encode(T value) throws Exception;

  /** The value stored as {@code bytes}; an exception marks the cached bytes as unreadable. */
  T decode(byte[] bytes) throws Exception;

  /** Strings as UTF-8. */
  static CacheCodec<String> utf8() {
    return Codecs.Utf8.INSTANCE;
  }

  /**
   * Bytes as they are. The cache may hand the same array to concurrent readers: do not modify it.
   */
  static CacheCodec<byte[]> bytes() {
    return Codecs.Bytes.INSTANCE;
  }
}
