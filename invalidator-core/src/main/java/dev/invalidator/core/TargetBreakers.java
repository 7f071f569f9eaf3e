package dev.invalidator.core;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Resilience4j circuit breaker per target, shared by every worker thread of a process, so that
 * a target that is down is left alone by all of them at once.
 *
 * <p>Design notes. Only batch-wide failures are recorded as errors: a target that throws for a
 * whole batch is unreachable (or broken as a whole), while a failure of one event is that event's
 * problem and must not stop the others. A breaker opens when at least half of the last ten batches
 * (and at least three) failed; after {@code openWait} one probe batch is let through (half-open);
 * its success closes the breaker. Every transition is logged at WARN and reported to the {@link
 * WorkerListener}, which is where metrics pick the state up.
 */
public final class TargetBreakers {
  private static final Logger log = LoggerFactory.getLogger(TargetBreakers.class);

  /** Default time a breaker stays open before it lets one probe batch through. */
  public static final Duration DEFAULT_OPEN_WAIT = Duration.ofSeconds(5);

  private final CircuitBreakerRegistry registry;
  private final WorkerListener listener;
  private final Map<String, CircuitBreaker> breakers = new ConcurrentHashMap<>();

  /**
   * @param openWait how long a breaker stays open before the half-open probe
   * @param listener told about every state transition
   */
  public TargetBreakers(Duration openWait, WorkerListener listener) {
    Objects.requireNonNull(openWait, "openWait");
    this.listener = Objects.requireNonNull(listener, "listener");
    CircuitBreakerConfig config =
        CircuitBreakerConfig.custom()
            .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
            .slidingWindowSize(10)
            .minimumNumberOfCalls(3)
            .failureRateThreshold(50)
            .waitDurationInOpenState(openWait)
            .permittedNumberOfCallsInHalfOpenState(1)
            .automaticTransitionFromOpenToHalfOpenEnabled(false)
            .build();
    this.registry = CircuitBreakerRegistry.of(config);
  }

  /** The breaker of {@code target}, created closed on first use. */
  CircuitBreaker of(String target) {
    return breakers.computeIfAbsent(
        target,
        t -> {
          CircuitBreaker cb = registry.circuitBreaker("target:" + t);
          cb.getEventPublisher()
              .onStateTransition(
                  e -> {
                    CircuitBreaker.StateTransition tr = e.getStateTransition();
                    log.warn(
                        "circuit breaker of target {}: {} -> {}",
                        t,
                        tr.getFromState(),
                        tr.getToState());
                    try {
                      listener.circuitStateChanged(
                          t, tr.getFromState().name(), tr.getToState().name());
                    } catch (RuntimeException ex) {
                      log.debug("listener failed", ex);
                    }
                  });
          return cb;
        });
  }

  /** The current state of every breaker by target, such as {@code CLOSED} or {@code OPEN}. */
  public Map<String, String> states() {
    Map<String, String> out = new java.util.TreeMap<>();
    breakers.forEach((t, cb) -> out.put(t, cb.getState().name()));
    return out;
  }

  /**
   * True when work for {@code target} may go ahead: the breaker is closed, or it would let a call
   * through now (this moves an open breaker whose wait has passed to half-open).
   */
  boolean admits(String target) {
    CircuitBreaker cb = of(target);
    if (cb.getState() == CircuitBreaker.State.CLOSED) {
      return true;
    }
    if (cb.tryAcquirePermission()) {
      cb.releasePermission();
      return true;
    }
    return false;
  }
}
