package dev.invalidator.core;

/**
 * The event needs something another worker holds and is still working on (a tag set it is walking,
 * under a lease that expires if that worker dies). Retrying later succeeds once the holder is done,
 * so the worker keeps such an event pending however often it was delivered: waiting for a long
 * tenant flush is not a failure, and it never turns into {@code retries_exhausted}.
 */
public final class BusyException extends InvalidatorException {
  private static final long serialVersionUID = 1L;

  public BusyException(String message) {
    super(message, true);
  }
}
