package dev.invalidator.core;

/** A target could not apply an event. Carries the target, event and tenant it concerns. */
public final class TargetException extends InvalidatorException {
  private static final long serialVersionUID = 1L;

  private final String target;
  private final String eventId;
  private final String tenantId;
  private final java.time.Duration retryAfter;

  public TargetException(
      String target,
      String eventId,
      String tenantId,
      String message,
      boolean retryable,
      Throwable cause) {
    this(target, eventId, tenantId, message, retryable, cause, null);
  }

  /**
   * A failure the remote side throttled: {@code retryAfter} is the wait it advertised (null when it
   * said nothing).
   */
  public TargetException(
      String target,
      String eventId,
      String tenantId,
      String message,
      boolean retryable,
      Throwable cause,
      java.time.Duration retryAfter) {
    super(
        "target " + target + ", event " + eventId + ", tenant " + tenantId + ": " + message,
        retryable,
        cause);
    this.target = target;
    this.eventId = eventId;
    this.tenantId = tenantId;
    this.retryAfter = retryAfter;
  }

  @Override
  public java.util.Optional<java.time.Duration> retryAfter() {
    return java.util.Optional.ofNullable(retryAfter);
  }

  public String target() {
    return target;
  }

  public String eventId() {
    return eventId;
  }

  public String tenantId() {
    return tenantId;
  }
}
