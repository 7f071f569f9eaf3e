package dev.invalidator.server;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.testing.TestServers;
import dev.invalidator.workflows.WorkflowEngine;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The README's worked example run by the daemon: a committed {@code plan.changed} event starts the
 * plan-change workflow, which invalidates Redis, purges the CDN (WireMock playing Fastly), calls
 * the projection webhook, waits its cooldown, calls the vendor and waits for the vendor's callback
 * on the admin server; {@code invalidator workflows list} then shows it succeeded.
 */
class WorkflowsDaemonIT {
  private static final String SECRET =
      "whsec_" + Base64.getEncoder().encodeToString("0123456789abcdef0123456789abcdef".getBytes());
  private static final String TOKEN = "admin-token-for-workflows";

  private final String schema = "wfd_" + UUID.randomUUID().toString().substring(0, 8);
  private WireMockServer http;
  @TempDir Path dir;

  @BeforeEach
  void startHttp() {
    http = new WireMockServer(options().dynamicPort());
    http.start();
    http.stubFor(post(urlPathMatching("/.*")).willReturn(aResponse().withStatus(200)));
  }

  @AfterEach
  void stop() throws Exception {
    http.stop();
    try (Connection c = java.sql.DriverManager.getConnection(TestServers.postgresUrl());
        Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
    }
  }

  private String definitions() {
    return ("[{'name':'plan-change','eventTypes':['plan.changed'],'steps':["
            + "{'name':'redis','kind':'invalidate-redis'},"
            + "{'name':'cdn','kind':'purge-cdn'},"
            + "{'name':'projection','kind':'webhook','url':'URL/hooks/projection','secret':'SECRET'},"
            + "{'name':'cooldown','kind':'wait','duration':'300ms'},"
            + "{'name':'vendor','kind':'vendor-call','url':'URL/vendor/plans','secret':'SECRET','rateLimit':'5/s'},"
            + "{'name':'confirmed','kind':'wait-for-callback','timeout':'30s'}]}]")
        .replace('\'', '"')
        .replace("URL", http.baseUrl())
        .replace("SECRET", SECRET);
  }

  @Test
  void thePlanChangeExampleRunsEveryStepAndCompletesOnTheCallback() throws Exception {
    Map<String, String> o = new HashMap<>();
    o.put("targets.cdn.provider", "fastly");
    o.put("targets.cdn.endpoint", http.baseUrl());
    o.put("targets.cdn.service", "svc1");
    o.put("targets.cdn.token", "fastly-token-123");
    o.put("targets.cdn.everyEvent", "false");
    o.put("workflows.definitions", definitions());
    o.put("workflows.schema", schema);
    o.put("admin.token", TOKEN);
    try (TestEnv env = new TestEnv(o)) {
      Daemon daemon = Daemon.create(env.cfg, Daemon.Role.ALL, WorkerListener.NONE, false);
      try {
        URI admin = daemon.start(true);
        InvalidationEvent e =
            InvalidationEvent.builder()
                .tenant("acme")
                .aggregate("plan", "pro")
                .version(4)
                .eventType("plan.changed")
                .payload(new Payload(List.of("summary"), List.of(), List.of("plan-pro")))
                .build();
        try (Connection c = env.servers.dataSource().getConnection()) {
          c.setAutoCommit(false);
          env.writer.append(c, e);
          c.commit();
        }
        String id = WorkflowEngine.workflowId("plan-change", e);
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    !http.findAll(
                            com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
                                urlPathMatching("/vendor/plans")))
                        .isEmpty());
        // Steps in order, each with its key; Redis's fence raised by the workflow's first step.
        List<String> paths =
            http.getAllServeEvents().stream()
                .map(s -> s.getRequest())
                .sorted(java.util.Comparator.comparing(LoggedRequest::getLoggedDate))
                .map(LoggedRequest::getUrl)
                .toList();
        assertThat(paths)
            .containsExactly("/service/svc1/purge", "/hooks/projection", "/vendor/plans");
        assertThat(env.servers.connection().sync().get(env.keys.fence(e.aggregate())))
            .isEqualTo("4");

        HttpResponse<String> denied = callback(admin, id, null);
        assertThat(denied.statusCode()).isEqualTo(401);
        HttpResponse<String> ok = callback(admin, id, TOKEN);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(202);
        assertThat(callback(admin, "plan-change:acme:" + UUID.randomUUID(), TOKEN).statusCode())
            .isEqualTo(404);

        Path config = dir.resolve("cli.yaml");
        Files.writeString(
            config,
            "postgres:\n  url: \""
                + TestServers.postgresUrl()
                + "\"\n  table: "
                + env.cfg.postgres().table()
                + "\nredis:\n  url: \""
                + TestServers.redisUrl()
                + "\"\n  prefix: "
                + env.keys.prefix()
                + "\nworkflows:\n  schema: "
                + schema
                + "\n");
        await()
            .atMost(Duration.ofSeconds(15))
            .untilAsserted(
                () ->
                    assertThat(
                            cli(
                                "workflows",
                                "list",
                                "--tenant",
                                "acme",
                                "--state",
                                "SUCCESS",
                                "--config",
                                config.toString()))
                        .contains(id)
                        .contains("1 workflow(s)"));
        assertThat(cli("workflows", "show", id, "--config", config.toString()))
            .contains("state:      SUCCESS")
            .contains("redis")
            .contains("DBOS.sleep") // the cooldown, as the engine records it
            .contains("vendor")
            .contains("DBOS.recv")
            .doesNotContain("vendor-dead-letter");
        assertThat(cli("workflows", "list", "--tenant", "other", "--config", config.toString()))
            .contains("0 workflow(s)");
        // status finds the engine's tables and counts the workflows by state.
        dev.invalidator.testing.ConsoleCapture.Result status =
            dev.invalidator.testing.ConsoleCapture.run(
                Main::execute, "status", "--json", "--config", config.toString());
        assertThat(status.exit()).as(status.err()).isZero();
        assertThat(status.out())
            .containsPattern(
                "\"workflowStates\" : \\{\\s*\"running\" : 0,\\s*\"waiting\" : 0,"
                    + "\\s*\"succeeded\" : 1,\\s*\"failed\" : 0,\\s*\"cancelled\" : 0");
        await()
            .atMost(Duration.ofSeconds(10))
            .until(() -> env.get(admin, "api/status").body().contains("\"plan-change/SUCCESS\":1"));
        String metrics = env.get(admin, "metrics").body();
        assertThat(metrics)
            .contains("invalidator_workflow_step_seconds_count{kind=\"vendor-call\"")
            .contains("invalidator_workflows{state=\"success\",workflow=\"plan-change\"}");
      } finally {
        daemon.close();
      }
    }
  }

  private static HttpResponse<String> callback(URI admin, String id, String token)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(admin.resolve("api/workflows/" + id + "/callback/confirmed"))
            .POST(HttpRequest.BodyPublishers.ofString("{\"status\":\"done\"}"));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return HttpClient.newHttpClient().send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = Main.commandLine();
    cmd.setOut(new PrintWriter(out));
    cmd.setErr(new PrintWriter(err));
    int code = cmd.execute(args);
    assertThat(code).as(err.toString()).isZero();
    return out.toString();
  }
}
