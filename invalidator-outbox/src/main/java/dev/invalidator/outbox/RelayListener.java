package dev.invalidator.outbox;

import java.time.Duration;

/**
 * Callbacks of a {@link PollingRelay}, for metrics. Every method has a no-op default. Called from
 * the relaying thread after the fact (after the commit for {@link #published} and {@link
 * #quarantined}); an exception thrown here is logged and otherwise ignored. Implementations must be
 * thread-safe when {@link PollingRelay#relayOnce()} is called from several threads.
 */
public interface RelayListener {
  /** A listener that does nothing. */
  RelayListener NONE = new RelayListener() {};

  /**
   * A batch was published and marked relayed.
   *
   * @param count the events published, at least 1
   * @param oldestAgeInBatch how long the oldest of them waited since its {@code created_at}
   */
  default void published(int count, Duration oldestAgeInBatch) {}

  /**
   * Rows that could not be turned into valid events were marked relayed with their {@code
   * relay_error} instead of being published.
   */
  default void quarantined(int count) {}

  /** Retention cleanup deleted {@code count} relayed rows. */
  default void cleanedUp(int count) {}

  /** An iteration of {@link PollingRelay#run()} failed; the loop backs off and continues. */
  default void loopError(Throwable error) {}
}
