package dev.invalidator.core;

import java.time.Instant;
import java.util.Map;

/**
 * An entry that will not be applied automatically, kept with everything needed to understand and
 * redrive it.
 *
 * @param sourceId the entry id in the stream it came from
 * @param original the entry's original fields
 * @param target the target that failed, or {@code *} when the entry could not be decoded
 * @param reason a reason class: {@code poison}, {@code invalid}, {@code retries_exhausted}
 * @param attempts deliveries so far
 * @param lastError the last error message
 */
public record DeadLetter(
    String sourceId,
    Map<String, String> original,
    String target,
    String reason,
    long attempts,
    Instant firstFailure,
    Instant lastFailure,
    String lastError) {
  public DeadLetter {
    original = Map.copyOf(original);
  }
}
