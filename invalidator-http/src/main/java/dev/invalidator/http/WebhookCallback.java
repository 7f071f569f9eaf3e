package dev.invalidator.http;

import dev.invalidator.core.InvalidationEvent;

/**
 * An in-process projection hook: called once per event a {@link WebhookTarget} applies, instead of
 * a POST. Returning normally applies the event. Throwing an {@link
 * dev.invalidator.core.InvalidatorException} fails it as that exception says (retryable or not);
 * any other exception fails it as retryable. At-least-once delivery calls it again for a
 * redelivered event unless the target is wrapped in the Redis {@code IdempotentTarget}.
 */
@FunctionalInterface
public interface WebhookCallback {
  void accept(InvalidationEvent event);
}
