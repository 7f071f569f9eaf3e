package dev.invalidator.core;

import java.time.Instant;

/**
 * Port: remembers when an entry first failed, so a dead letter can say since when it has been
 * failing even if the failures happened in processes that have since crashed.
 */
public interface FailureHistory {
  /** Keeps nothing: the first failure is taken to be now. */
  FailureHistory NONE =
      new FailureHistory() {
        @Override
        public Instant recordFailure(String entryId, Instant now) {
          return now;
        }

        @Override
        public void forget(String entryId) {}
      };

  /** Records a failure of {@code entryId} at {@code now}; returns the time of its first failure. */
  Instant recordFailure(String entryId, Instant now);

  /** Drops the record (the entry was dead-lettered or finally applied). */
  void forget(String entryId);
}
