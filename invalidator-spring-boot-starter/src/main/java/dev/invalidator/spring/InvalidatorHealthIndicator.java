package dev.invalidator.spring;

import java.util.Objects;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/**
 * Actuator health of the invalidation pipeline as the application sees it: {@link
 * InvalidatorHealthCheck} (outbox and stream lag; DOWN only when PostgreSQL or Redis cannot be
 * queried) as this Spring Boot generation's {@code HealthIndicator}.
 */
public final class InvalidatorHealthIndicator implements HealthIndicator, AutoCloseable {
  private final InvalidatorHealthCheck check;

  /** An indicator of {@code check}, closed with it. */
  public InvalidatorHealthIndicator(InvalidatorHealthCheck check) {
    this.check = Objects.requireNonNull(check, "check");
  }

  @Override
  public Health health() {
    InvalidatorHealthCheck.Result r = check.check();
    Health.Builder b = r.up() ? Health.up() : Health.down(r.error());
    return b.withDetails(r.details()).build();
  }

  @Override
  public void close() {
    check.close();
  }
}
