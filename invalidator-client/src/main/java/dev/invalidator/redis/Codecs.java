package dev.invalidator.redis;

import java.nio.charset.StandardCharsets;

/** The codecs {@link CacheCodec} hands out by name. */
final class Codecs {
  private Codecs() {}

  /** See {@link CacheCodec#utf8()}. */
  enum Utf8 implements CacheCodec<String> {
    INSTANCE;

    @Override
    public byte[] encode(String value) {
      return value.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String decode(byte[] bytes) {
      return new String(bytes, StandardCharsets.UTF_8);
    }
  }

  /** See {@link CacheCodec#bytes()}. */
  enum Bytes implements CacheCodec<byte[]> {
    INSTANCE;

    @Override
    public byte[] encode(byte[] value) {
      return value;
    }

    @Override
    public byte[] decode(byte[] bytes) {
      return bytes;
    }
  }
}
