package dev.invalidator.http;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** Events for the tests. */
final class Events {
  private static final AtomicLong IDS = new AtomicLong();

  private Events() {}

  /** An event of {@code tenant} whose payload lists {@code cdnTags}. */
  static InvalidationEvent withCdnTags(String tenant, List<String> cdnTags) {
    return InvalidationEvent.builder()
        .tenant(tenant)
        .aggregate("product", "p" + IDS.incrementAndGet())
        .version(1)
        .payload(new Payload(List.of(), List.of(), cdnTags))
        .createdAt(Instant.now().truncatedTo(ChronoUnit.MILLIS))
        .build();
  }

  static InvalidationEvent withCdnTags(String tenant, String... cdnTags) {
    return withCdnTags(tenant, List.of(cdnTags));
  }
}
