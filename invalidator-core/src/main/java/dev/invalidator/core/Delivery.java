package dev.invalidator.core;

import java.util.Map;

/**
 * One delivery of a stream entry to a consumer.
 *
 * @param id the entry id in the stream
 * @param fields the entry's raw fields, undecoded
 * @param deliveryCount how often the transport has delivered it, this delivery included; kept by
 *     the transport (Redis's pending entries list), so a crash does not reset it
 */
public record Delivery(String id, Map<String, String> fields, long deliveryCount) {
  public Delivery {
    fields = Map.copyOf(fields);
  }
}
