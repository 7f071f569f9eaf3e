package dev.invalidator.server.observe;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * OpenTelemetry for the daemon, configured by the standard {@code OTEL_*} environment variables
 * (and {@code otel.*} system properties) through the SDK's autoconfiguration: the OTLP exporter by
 * default, {@code OTEL_EXPORTER_OTLP_ENDPOINT}, {@code OTEL_TRACES_SAMPLER} and so on. Tracing is
 * off, with no SDK, no exporter thread and no per-event work, unless some {@code OTEL_*} variable
 * (or {@code otel.*} property) is set, and off when {@code OTEL_SDK_DISABLED=true}. Only traces are
 * exported: metrics go to Prometheus and logs to the console. OTLP goes over HTTP/protobuf (default
 * port 4318) with the JDK's HTTP client; the jar carries no gRPC sender, so {@code
 * OTEL_EXPORTER_OTLP_PROTOCOL=grpc} fails at start-up with the SDK's message saying so.
 */
public final class Tracing {
  private static final Logger log = LoggerFactory.getLogger(Tracing.class);

  private Tracing() {}

  /** OpenTelemetry from the process environment and system properties. */
  public static OpenTelemetry fromEnvironment() {
    return from(System.getenv(), System.getProperties());
  }

  static OpenTelemetry from(Map<String, String> env, java.util.Properties props) {
    boolean configured =
        env.keySet().stream().anyMatch(k -> k.startsWith("OTEL_"))
            || props.stringPropertyNames().stream().anyMatch(k -> k.startsWith("otel."));
    String disabled = props.getProperty("otel.sdk.disabled", env.get("OTEL_SDK_DISABLED"));
    if (!configured || "true".equalsIgnoreCase(disabled == null ? "" : disabled.trim())) {
      return OpenTelemetry.noop();
    }
    OpenTelemetrySdk sdk =
        AutoConfiguredOpenTelemetrySdk.builder()
            .addPropertiesSupplier(
                () ->
                    Map.of(
                        "otel.service.name", "invalidator",
                        "otel.exporter.otlp.protocol", "http/protobuf",
                        "otel.metrics.exporter", "none",
                        "otel.logs.exporter", "none"))
            .disableShutdownHook()
            .build()
            .getOpenTelemetrySdk();
    log.info("OpenTelemetry tracing on (configured by OTEL_* variables)");
    return sdk;
  }

  /** Flushes and stops an SDK made by {@link #fromEnvironment()}; nothing for the no-op. */
  public static void shutdown(OpenTelemetry openTelemetry) {
    if (openTelemetry instanceof OpenTelemetrySdk sdk) {
      sdk.shutdown().join(5, java.util.concurrent.TimeUnit.SECONDS);
    }
  }
}
