package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.core.WorkerListeners;
import dev.invalidator.server.observe.AdminServer;
import io.opentelemetry.api.OpenTelemetry;
import java.net.URI;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The daemon's operations surface in {@code relay.mode: cdc}: the replication slot's gauges on
 * {@code /metrics} and the CDC relay's liveness in {@code /health/ready}.
 */
class CdcOperationsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration WAIT = Duration.ofSeconds(60);

  private TestEnv env;
  private Observability observability;
  private Pipeline pipeline;

  private URI start(Map<String, String> settings) {
    Map<String, String> s = new HashMap<>(settings);
    s.put("relay.mode", "cdc");
    s.putIfAbsent("relay.cdc.heartbeatInterval", "500ms");
    env = new TestEnv(s);
    observability =
        Observability.create(env.cfg, Daemon.Role.ALL, OpenTelemetry.noop(), Clock.systemUTC());
    pipeline =
        new Pipeline(
            env.cfg,
            env.servers,
            Daemon.Role.ALL,
            WorkerListeners.all(observability.metrics().workerListener()),
            observability.metrics().relayListener(),
            Clock.systemUTC(),
            MessagingSpans.NOOP);
    pipeline.start();
    AdminServer admin = observability.start(env.servers, pipeline);
    return admin.uri();
  }

  @AfterEach
  void tearDown() throws Exception {
    if (pipeline != null) {
      pipeline.close();
    }
    if (observability != null) {
      observability.close();
    }
    if (env != null) {
      if (pipeline != null) {
        pipeline.cdc().decommission();
      }
      try (Connection c = env.servers.dataSource().getConnection();
          Statement st = c.createStatement()) {
        st.execute(
            "DROP TABLE IF EXISTS "
                + env.table.schema()
                + "."
                + env.table.table()
                + "_cdc_offsets");
      }
      env.close();
    }
  }

  private static double gauge(String metrics, String series) {
    Matcher m =
        Pattern.compile("(?m)^" + Pattern.quote(series) + " ([0-9.E+-]+)$").matcher(metrics);
    assertThat(m.find()).as("series %s in%n%s", series, metrics).isTrue();
    return Double.parseDouble(m.group(1));
  }

  @Test
  void slotGaugesAreExportedAndReadinessFollowsTheCdcRelay() throws Exception {
    URI base = start(Map.of());
    String slot = pipeline.cdc().slotName();
    env.commit("acme", "a1", 1);
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              String metrics = env.get(base, "metrics").body();
              assertThat(gauge(metrics, "invalidator_cdc_slot_active{slot=\"" + slot + "\"}"))
                  .isEqualTo(1.0);
              assertThat(
                      gauge(
                          metrics,
                          "invalidator_cdc_slot_wal_status{slot=\""
                              + slot
                              + "\",status=\"reserved\"}"))
                  .isEqualTo(1.0);
              assertThat(
                      gauge(
                          metrics,
                          "invalidator_cdc_slot_wal_status{slot=\""
                              + slot
                              + "\",status=\"missing\"}"))
                  .isEqualTo(0.0);
              assertThat(gauge(metrics, "invalidator_cdc_slot_lag_bytes{slot=\"" + slot + "\"}"))
                  .isGreaterThanOrEqualTo(0.0);
              assertThat(
                      gauge(metrics, "invalidator_cdc_slot_retained_bytes{slot=\"" + slot + "\"}"))
                  .isGreaterThanOrEqualTo(0.0);
              assertThat(gauge(metrics, "invalidator_relay_last_loop_age_seconds"))
                  .isLessThan(30.0);
            });
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              HttpResponse<String> ready = env.get(base, "health/ready");
              assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
              JsonNode relay = JSON.readTree(ready.body()).at("/checks/relay");
              assertThat(relay.get("status").asText()).isEqualTo("UP");
              assertThat(relay.get("detail").asText())
                  .contains("streaming from slot " + slot)
                  .contains("last batch or heartbeat");
            });

    // A relay that stopped makes readiness fail, naming it.
    pipeline.cdc().close();
    await()
        .atMost(WAIT)
        .untilAsserted(
            () -> {
              HttpResponse<String> r = env.get(base, "health/ready");
              assertThat(r.statusCode()).isEqualTo(503);
              JsonNode relay = JSON.readTree(r.body()).at("/checks/relay");
              assertThat(relay.get("status").asText()).isEqualTo("DOWN");
              assertThat(relay.get("detail").asText()).contains("CDC relay is stopped");
              String metrics = env.get(base, "metrics").body();
              assertThat(gauge(metrics, "invalidator_cdc_slot_active{slot=\"" + slot + "\"}"))
                  .isEqualTo(0.0);
            });
  }
}
