package dev.invalidator.server.observe;

import io.opentelemetry.api.OpenTelemetry;
import java.util.Map;
import java.util.Properties;

/** Opens {@link Tracing}'s environment-driven factory to tests in other packages. */
public final class TracingAccess {
  private TracingAccess() {}

  public static OpenTelemetry from(Map<String, String> env, Properties props) {
    return Tracing.from(env, props);
  }
}
