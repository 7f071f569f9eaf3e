package dev.invalidator.redis;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.LongAdder;

/**
 * CacheClient's Micrometer meters. Micrometer is an optional dependency of {@code
 * invalidator-client}, so its types are named here only: this class is loaded when an application
 * passes a {@link MeterRegistry}, never otherwise.
 */
final class CacheClientMeters {
  private CacheClientMeters() {}

  static void register(MeterRegistry registry, LongAdder fillsRejected) {
    FunctionCounter.builder(CacheClient.FILL_REJECTED_METER, fillsRejected, LongAdder::sum)
        .description(
            "Read-through fills refused by the fence: the value read was older than an announced invalidation")
        .register(registry);
  }
}
