package dev.invalidator.core;

/** A target could not apply an event. Carries the target, event and tenant it concerns. */
public final class TargetException extends InvalidatorException {
  private static final long serialVersionUID = 1L;

  private final String target;
  private final String eventId;
  private final String tenantId;

  public TargetException(
      String target,
      String eventId,
      String tenantId,
      String message,
      boolean retryable,
      Throwable cause) {
    super(
        "target " + target + ", event " + eventId + ", tenant " + tenantId + ": " + message,
        retryable,
        cause);
    this.target = target;
    this.eventId = eventId;
    this.tenantId = tenantId;
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
