package dev.invalidator.redis;

import dev.invalidator.core.InvalidatorException;
import io.lettuce.core.RedisCommandExecutionException;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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
      String message = String.valueOf(cause.getMessage());
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
