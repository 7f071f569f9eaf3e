package dev.invalidator.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;

/**
 * A Lua script shipped as a class-path resource, read once, and run by its SHA-1 with {@code
 * EVALSHA}. When the server does not know the script ({@code NOSCRIPT}: after a restart, a failover
 * or a {@code SCRIPT FLUSH}) it is sent once with {@code EVAL}, which also caches it again on the
 * server.
 */
final class LuaScript {
  static final LuaScript INVALIDATE = load("invalidate.lua");
  static final LuaScript READ = load("read.lua");
  static final LuaScript FILL = load("fill.lua");
  static final LuaScript TAG_JOIN = load("tagjoin.lua");
  static final LuaScript TAG_BUMP = load("tagbump.lua");
  static final LuaScript PUBLISH = load("publish.lua");
  static final LuaScript HEARTBEAT = load("heartbeat.lua");
  static final LuaScript UNLOCK = load("unlock.lua");
  static final LuaScript CLAIM = load("claim.lua");
  static final LuaScript INSPECT = load("inspect.lua");

  private final String name;
  private final String source;
  private final String sha;

  private LuaScript(String name, String source) {
    this.name = name;
    this.source = source;
    this.sha = sha1(source);
  }

  String name() {
    return name;
  }

  String sha() {
    return sha;
  }

  /** Runs the script and waits for its reply (the connection's own timeout applies). */
  <K, V, T> T call(RedisClusterCommands<K, V> commands, ScriptOutputType type, K[] keys, V[] args) {
    try {
      return commands.evalsha(sha, type, keys, args);
    } catch (RedisNoScriptException ex) {
      return commands.eval(source, type, keys, args);
    }
  }

  /** Sends the script without waiting; the future completes with its reply. */
  <K, V, T> CompletableFuture<T> callAsync(
      RedisClusterAsyncCommands<K, V> commands, ScriptOutputType type, K[] keys, V[] args) {
    CompletableFuture<T> bySha = commands.<T>evalsha(sha, type, keys, args).toCompletableFuture();
    return bySha.exceptionallyCompose(
        error -> {
          if (RedisErrors.unwrap(error) instanceof RedisNoScriptException) {
            return commands.<T>eval(source, type, keys, args).toCompletableFuture();
          }
          return CompletableFuture.failedFuture(RedisErrors.unwrap(error));
        });
  }

  /**
   * Reads {@code name} from the class path next to this class ({@code dev/invalidator/redis/}),
   * from whichever artifact holds it: the daemon's own scripts live in invalidator-redis.
   */
  static LuaScript load(String name) {
    try (InputStream in = LuaScript.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("Lua script " + name + " is missing from the class path");
      }
      return new LuaScript(name, new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException ex) {
      throw new UncheckedIOException("cannot read Lua script " + name, ex);
    }
  }

  private static String sha1(String text) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException ex) {
      throw new IllegalStateException("SHA-1 is not available", ex);
    }
  }
}
