package dev.invalidator.core;

import java.time.Duration;
import java.util.Collection;
import java.util.List;

/** Port: where workers take committed events from (a Redis stream consumer group, Kafka). */
public interface EventSource {
  /** New deliveries for this consumer, waiting at most {@code block} when there are none. */
  List<Delivery> poll(int max, Duration block) throws InterruptedException;

  /**
   * Takes over deliveries that another consumer (or this one, before a crash) left unacknowledged
   * for at least {@code minIdle}.
   */
  List<Delivery> claimAbandoned(Duration minIdle, int max);

  /**
   * The name of what this source reads (the stream key), for the {@code messaging.destination.name}
   * of processing spans.
   */
  default String destination() {
    return "unknown";
  }

  /**
   * Takes back this consumer's own failed deliveries whose retry is due: an entry delivered {@code
   * n} times is due once it has been idle for {@code backoff.delay(n - 1, seed)}, with a seed
   * derived from the entry id so the due time is stable. The returned deliveries carry the
   * transport's delivery count, incremented by this claim. The default (a transport without
   * per-entry redelivery) returns nothing, leaving retries to {@link #claimAbandoned}.
   */
  default List<Delivery> claimDueRetries(Backoff backoff, int max) {
    return List.of();
  }

  /** Acknowledges deliveries: they will not be delivered again. */
  void ack(Collection<String> ids);
}
