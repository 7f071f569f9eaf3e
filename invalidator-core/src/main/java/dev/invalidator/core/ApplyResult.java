package dev.invalidator.core;

/** What a target did with one event. */
public record ApplyResult(Status status, RuntimeException error) {
  /** The outcomes, also the {@code result} label of {@code invalidator_applied_total}. */
  public enum Status {
    /** The event changed the target (raised a fence, removed an entry). */
    APPLIED,
    /** The target already held this version or a newer one: nothing to do. */
    STALE_SKIPPED,
    /** The event was processed before (deduplicated by event id). */
    DUPLICATE,
    /** The target could not apply it; the entry stays pending. */
    FAILED
  }

  public static final ApplyResult APPLIED = new ApplyResult(Status.APPLIED, null);
  public static final ApplyResult STALE_SKIPPED = new ApplyResult(Status.STALE_SKIPPED, null);
  public static final ApplyResult DUPLICATE = new ApplyResult(Status.DUPLICATE, null);

  public static ApplyResult failed(RuntimeException error) {
    return new ApplyResult(Status.FAILED, error);
  }

  public boolean succeeded() {
    return status != Status.FAILED;
  }
}
