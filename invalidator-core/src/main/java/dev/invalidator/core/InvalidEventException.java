package dev.invalidator.core;

/**
 * An event, identifier or stream entry that breaks the contract. Permanent: retrying the same input
 * fails the same way, so the worker sends it to the dead letters at once.
 */
public final class InvalidEventException extends InvalidatorException {
  private static final long serialVersionUID = 1L;

  private final String field;

  public InvalidEventException(String field, String message) {
    super(field + ": " + message, false);
    this.field = field;
  }

  /** The field or setting that is wrong, such as {@code tenant_id} or {@code payload.views}. */
  public String field() {
    return field;
  }
}
