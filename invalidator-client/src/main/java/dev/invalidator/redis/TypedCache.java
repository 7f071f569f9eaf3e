package dev.invalidator.redis;

import dev.invalidator.core.InvalidatorException;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A typed view of a {@link CacheClient} ({@link CacheClient#typed(CacheCodec)}): the loader returns
 * a value of type {@code T} with the version it was read at, or the absence of a row at a version;
 * the cache stores them through its byte layer with exactly the same fill protocol (fence, tags,
 * fill lease, near tier) and decodes what it serves with the codec.
 *
 * <p>Every caller gets its own decoded copy, except the caller whose loader ran, who gets the
 * object its loader returned. A cached value the codec cannot decode (a class changed shape in a
 * deployment) is treated as a miss: the loader's value is returned and counted in {@link
 * #decodeFailures()}; the unreadable entry stays until an invalidation or its TTL removes it,
 * because a fill at the same version never replaces an entry.
 *
 * @param <T> the value type
 */
public final class TypedCache<T> {
  private static final Logger log = LoggerFactory.getLogger(TypedCache.class);

  /**
   * A value of the source of truth with its version, or the absence of a row at a version.
   *
   * @param version the aggregate's version when read; {@code >= 0}
   * @param value the value; null exactly when the row is absent
   * @param <T> the value type
   */
  public record Loaded<T>(long version, T value) {
    public Loaded {
      if (version < 0) {
        throw new IllegalArgumentException("version must be >= 0, got " + version);
      }
    }

    /** {@code value} read at {@code version}. */
    public static <T> Loaded<T> of(long version, T value) {
      return new Loaded<>(version, Objects.requireNonNull(value, "value"));
    }

    /**
     * No such row at {@code version}, cached as an absence (see {@link
     * CacheClient.Versioned#absentAt(long)} for the version to use).
     */
    public static <T> Loaded<T> absent(long version) {
      return new Loaded<>(version, null);
    }

    /** True when the row is absent. */
    public boolean isAbsent() {
      return value == null;
    }

    /** The value, or empty when the row is absent. */
    public Optional<T> asOptional() {
      return Optional.ofNullable(value);
    }
  }

  /** Reads a value and its version from the source of truth. */
  @FunctionalInterface
  public interface Loader<T> {
    /**
     * The current value and version ({@link Loaded#of}); {@link Loaded#absent} when there is no
     * such row and the absence may be cached; or null when there is no such row and nothing is
     * cached.
     */
    Loaded<T> load() throws Exception;
  }

  private final CacheClient cache;
  private final CacheCodec<T> codec;
  private final LongAdder decodeFailures = new LongAdder();

  TypedCache(CacheClient cache, CacheCodec<T> codec) {
    this.cache = Objects.requireNonNull(cache, "cache");
    this.codec = Objects.requireNonNull(codec, "codec");
  }

  /**
   * The value of {@code view} of aggregate {@code type/id} of {@code tenant}, through the cache.
   *
   * @return the value, or empty when the row is absent (cached or loaded) or the loader returned
   *     null
   * @throws InvalidatorException when the loader or the codec's encoding failed (the cause)
   */
  public Optional<T> get(String tenant, String type, String id, String view, Loader<T> loader) {
    return get(tenant, type, id, view, List.of(), loader);
  }

  /** Like {@link #get(String, String, String, String, Loader)}, with tags. */
  public Optional<T> get(
      String tenant,
      String type,
      String id,
      String view,
      Collection<String> tags,
      Loader<T> loader) {
    Loaded<T> loaded = getLoaded(tenant, type, id, view, tags, loader);
    return loaded == null ? Optional.empty() : loaded.asOptional();
  }

  /**
   * Like {@link #get(String, String, String, String, Collection, Loader)}, with the version the
   * value (or absence) was read at.
   *
   * @return the value or absence and its version; null when the loader returned null
   */
  public Loaded<T> getLoaded(
      String tenant,
      String type,
      String id,
      String view,
      Collection<String> tags,
      Loader<T> loader) {
    Objects.requireNonNull(loader, "loader");
    // What this caller's own loader returned, to hand back without a decode.
    Object[] mine = new Object[2];
    CacheClient.Versioned v = cache.get(tenant, type, id, view, tags, encoding(loader, mine));
    if (v == null) {
      return null;
    }
    if (v == mine[0]) {
      @SuppressWarnings("unchecked")
      Loaded<T> own = (Loaded<T>) mine[1];
      return own;
    }
    if (v.absent()) {
      return Loaded.absent(v.version());
    }
    try {
      return Loaded.of(v.version(), codec.decode(v.value()));
    } catch (Exception ex) {
      decodeFailures.increment();
      log.debug(
          "cached {}/{}/{} view {} at version {} cannot be decoded by {}; loading: {}",
          tenant,
          type,
          id,
          view,
          v.version(),
          codec,
          ex.toString());
      try {
        return loader.load();
      } catch (RuntimeException again) {
        throw again;
      } catch (InterruptedException again) {
        Thread.currentThread().interrupt();
        throw new InvalidatorException("loader interrupted", true, again);
      } catch (Exception again) {
        throw new InvalidatorException("loader failed: " + again, true, again);
      }
    }
  }

  /**
   * {@link #get(String, String, String, String, Loader)} without blocking the caller: {@link
   * CacheClient#getAsync(String, String, String, String, CacheClient.Loader,
   * java.util.concurrent.Executor)} underneath, same fence and fill rules; the blocking loader (and
   * a reload after a value the codec cannot decode) runs on {@code executor}.
   */
  public CompletableFuture<Optional<T>> getAsync(
      String tenant, String type, String id, String view, Loader<T> loader, Executor executor) {
    Objects.requireNonNull(loader, "loader");
    Objects.requireNonNull(executor, "executor");
    Object[] mine = new Object[2];
    return cache
        .getAsync(tenant, type, id, view, encoding(loader, mine), executor)
        .thenCompose(
            v -> {
              if (v == null) {
                return CompletableFuture.completedFuture(Optional.<T>empty());
              }
              if (v == mine[0]) {
                @SuppressWarnings("unchecked")
                Loaded<T> own = (Loaded<T>) mine[1];
                return CompletableFuture.completedFuture(own.asOptional());
              }
              if (v.absent()) {
                return CompletableFuture.completedFuture(Optional.<T>empty());
              }
              try {
                return CompletableFuture.completedFuture(Optional.of(codec.decode(v.value())));
              } catch (Exception ex) {
                decodeFailures.increment();
                log.debug(
                    "cached {}/{}/{} view {} at version {} cannot be decoded by {}; loading: {}",
                    tenant,
                    type,
                    id,
                    view,
                    v.version(),
                    codec,
                    ex.toString());
                return CompletableFuture.supplyAsync(
                    () -> {
                      try {
                        Loaded<T> l = loader.load();
                        return l == null ? Optional.<T>empty() : l.asOptional();
                      } catch (RuntimeException again) {
                        throw again;
                      } catch (Exception again) {
                        throw new InvalidatorException("loader failed: " + again, true, again);
                      }
                    },
                    executor);
              }
            });
  }

  /**
   * The byte-level loader of {@code loader}: encodes what it returns, and keeps it (and the
   * original) in {@code mine}, so the caller's own load is handed back without a decode.
   */
  private CacheClient.Loader encoding(Loader<T> loader, Object[] mine) {
    return () -> {
      Loaded<T> l = loader.load();
      if (l == null) {
        return null;
      }
      CacheClient.Versioned encoded =
          l.isAbsent()
              ? CacheClient.Versioned.absentAt(l.version())
              : new CacheClient.Versioned(l.version(), encode(l.value()));
      mine[0] = encoded;
      mine[1] = l;
      return encoded;
    };
  }

  /** Cached values the codec could not decode since this view was made. */
  public long decodeFailures() {
    return decodeFailures.sum();
  }

  /** The byte-level cache underneath. */
  public CacheClient client() {
    return cache;
  }

  /** The codec. */
  public CacheCodec<T> codec() {
    return codec;
  }

  private byte[] encode(T value) throws Exception {
    byte[] bytes = codec.encode(value);
    if (bytes == null) {
      throw new IllegalStateException(codec + " encoded a value as null");
    }
    return bytes;
  }
}
