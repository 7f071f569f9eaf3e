package dev.invalidator.core;

/**
 * Root of every exception Invalidator throws. Subclasses say whether retrying can help and carry
 * the event, tenant and key they concern, when known.
 */
public class InvalidatorException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final boolean retryable;

  public InvalidatorException(String message, boolean retryable) {
    super(message);
    this.retryable = retryable;
  }

  public InvalidatorException(String message, boolean retryable, Throwable cause) {
    super(message, cause);
    this.retryable = retryable;
  }

  /** True when the same operation may succeed later (a timeout, a lost connection). */
  public boolean isRetryable() {
    return retryable;
  }

  /**
   * How long the remote side asked us to wait before the next attempt (an HTTP 429's {@code
   * Retry-After}), when it said; empty otherwise.
   */
  public java.util.Optional<java.time.Duration> retryAfter() {
    return java.util.Optional.empty();
  }
}
