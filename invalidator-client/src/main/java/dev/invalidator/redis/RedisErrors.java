package dev.invalidator.redis;

import dev.invalidator.core.InvalidatorException;
import io.lettuce.core.RedisCommandExecutionException;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one place where Redis and Lettuce errors become {@link InvalidatorException}s, retryable or
 * permanent.
 *
 * <p>Retryable: anything about the connection (refused, reset, closed, timed out) and the server
 * errors that describe a passing state (a busy script, a replica being loaded or promoted, a
 * cluster reconfiguring, memory pressure). Permanent: every other server error ({@code WRONGTYPE},
 * a script error, a syntax error), because sending the same command again fails the same way.
 */
final class RedisErrors {
  private static final String[] TRANSIENT_SERVER_ERRORS = {
    "BUSY", "LOADING", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN", "NOREPLICAS", "OOM"
  };

  private static final Pattern SCRIPT_ERROR_62 =
      Pattern.compile(
          "ERR Error running script \\(call to [^)]*\\): (?:@user_script: ?\\d+: )*-?(.*)",
          Pattern.DOTALL);

  private RedisErrors() {}

  /** Translates {@code error}, unwrapping future wrappers; {@code what} says what failed. */
  static InvalidatorException translate(String what, Throwable error) {
    Throwable cause = unwrap(error);
    if (cause instanceof InvalidatorException ie) {
      return ie;
    }
    return new InvalidatorException(what + ": " + cause, isRetryable(cause), cause);
  }

  /** True if the same command may succeed later. */
  static boolean isRetryable(Throwable error) {
    Throwable cause = unwrap(error);
    if (cause instanceof InvalidatorException ie) {
      return ie.isRetryable();
    }
    if (cause instanceof RedisCommandExecutionException) {
      String message = serverMessage(cause);
      for (String prefix : TRANSIENT_SERVER_ERRORS) {
        if (message.startsWith(prefix)) {
          return true;
        }
      }
      return false;
    }
    // Connection refused or reset, command timeouts, a closed connection: all pass.
    return true;
  }

  /** {@code NOGROUP}, also from inside a script (which Redis 6.2 wraps in an {@code ERR}). */
  static boolean isNoGroup(Throwable error) {
    return serverMessage(error).startsWith("NOGROUP");
  }

  /** {@code BUSYGROUP}: the consumer group being created exists already. */
  static boolean isBusyGroup(Throwable error) {
    return serverMessage(error).startsWith("BUSYGROUP");
  }

  /**
   * The server's error message, starting with its code ({@code NOGROUP ...}). Redis 7.0+ passes an
   * error raised inside a Lua script on as it is; Redis 6.2 wraps it ({@code ERR Error running
   * script (call to f_...): @user_script:1: @user_script: 1: -READONLY You can't write ...}), and
   * this unwraps it, so a script's READONLY or OOM is as retryable as the command's.
   */
  static String serverMessage(Throwable error) {
    Throwable cause = unwrap(error);
    String message = cause == null ? "" : String.valueOf(cause.getMessage());
    Matcher m = SCRIPT_ERROR_62.matcher(message);
    return m.matches() ? m.group(1) : message;
  }

  /** True for an error reply of the server (as opposed to a connection problem). */
  static boolean isServerError(Throwable error) {
    return unwrap(error) instanceof RedisCommandExecutionException;
  }

  static Throwable unwrap(Throwable error) {
    Throwable t = error;
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /**
   * Waits for {@code future} at most {@code timeout}; every failure, the timeout and an interrupt
   * (whose flag is restored) become an {@link InvalidatorException}.
   */
  static <T> T await(CompletionStage<T> future, Duration timeout, String what) {
    try {
      return future.toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new InvalidatorException(what + ": interrupted", true, ex);
    } catch (TimeoutException ex) {
      throw new InvalidatorException(
          what + ": no reply within " + timeout.toMillis() + " ms", true, ex);
    } catch (ExecutionException ex) {
      throw translate(what, ex);
    }
  }
}
