package dev.invalidator.outbox;

import dev.invalidator.core.InvalidationEvent;

/** Event factories for tests. */
final class Events {
  private Events() {}

  static InvalidationEvent event(String tenant, String type, String id, long version) {
    return InvalidationEvent.builder().tenant(tenant).aggregate(type, id).version(version).build();
  }
}
