package dev.invalidator.server.fault;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.http.UniformDistribution;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.testing.TestServers;
import dev.invalidator.workflows.WorkflowAdmin;
import dev.invalidator.workflows.WorkflowEngine;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The daemon ({@code invalidator run}, a child JVM) is SIGKILLed at random moments while its
 * workflows are mid-flight, and restarted, against the test's PostgreSQL and Redis and a WireMock
 * server playing the webhook receivers. Each workflow is three webhook steps with a durable wait
 * between each two. At the end every workflow is {@code SUCCESS}, and at the HTTP side every
 * (workflow, step) effect arrived under its one idempotency key ({@code webhook-id}); raw
 * deliveries beyond one per key are counted and reported. The design allows them (a step killed
 * during its HTTP call runs again on recovery, with the same key; see docs/architecture.md,
 * Workflows, Recovery) and bounds them: at most one per workflow running at a kill.
 *
 * <p>The negative controls run the checker on the run's real receipts with one effect removed and
 * with one effect delivered a second time under another key: both must be reported.
 *
 * <p>3 kills by default; {@code -Dinvalidator.workflowKills=20} (or {@code
 * -Dinvalidator.soak=true}) for the 20. Prints a report line starting with {@code
 * workflow-kill:}.
 */
class WorkflowKillIT {
  private static final boolean SOAK = Boolean.getBoolean("invalidator.soak");
  private static final int KILLS = Integer.getInteger("invalidator.workflowKills", SOAK ? 20 : 3);

  /** Kills in all: one that found the workflows it saw already finished is tried again. */
  private static final int MAX_KILLS = 3 * KILLS;

  private static final int EVENTS_PER_LIFE = 4;
  private static final int CONCURRENCY = 4;
  private static final String WORKFLOW = "killwf";
  private static final List<String> STEPS = List.of("a", "b", "c");
  private static final String SECRET =
      "whsec_" + Base64.getEncoder().encodeToString("0123456789abcdef0123456789abcdef".getBytes());
  private static final ObjectMapper JSON = new ObjectMapper();

  private final String id = UUID.randomUUID().toString().replace("-", "").substring(0, 10);
  private final String schema = "wfk_" + id;
  private final OutboxTable table = OutboxTable.of("public", "outbox_wfk_" + id);
  private Path logs;
  private int launches;

  private String definitions(String baseUrl) {
    StringBuilder steps = new StringBuilder();
    for (int i = 0; i < STEPS.size(); i++) {
      if (i > 0) {
        steps.append(",{'name':'pause-").append(i).append("','kind':'wait','duration':'400ms'},");
      }
      steps
          .append("{'name':'")
          .append(STEPS.get(i))
          .append("','kind':'webhook','url':'")
          .append(baseUrl)
          .append("/hooks/")
          .append(STEPS.get(i))
          .append("','secret':'")
          .append(SECRET)
          .append("'}");
    }
    return ("[{'name':'" + WORKFLOW + "','eventTypes':['plan.changed'],'steps':[" + steps + "]}]")
        .replace('\'', '"');
  }

  private Process launch(String baseUrl) throws Exception {
    int n = ++launches;
    List<String> cmd =
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            System.getProperty("java.class.path"),
            "dev.invalidator.server.Main",
            "run");
    Path log = logs.resolve("daemon-" + n + ".log");
    ProcessBuilder pb =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> k.startsWith("INVALIDATOR_") || k.startsWith("OTEL_"));
    env.put("INVALIDATOR_POSTGRES_URL", TestServers.postgresUrl());
    env.put("INVALIDATOR_POSTGRES_TABLE", table.table());
    env.put("INVALIDATOR_POSTGRES_POOL_SIZE", "4");
    env.put("INVALIDATOR_REDIS_URL", TestServers.redisUrl());
    env.put("INVALIDATOR_REDIS_PREFIX", "wfk" + id);
    env.put("INVALIDATOR_ADMIN_PORT", "0");
    env.put("INVALIDATOR_RELAY_POLL_INTERVAL", "200ms");
    env.put("INVALIDATOR_WORKER_BLOCK", "200ms");
    env.put("INVALIDATOR_WORKER_CLAIM_MIN_IDLE", "2s");
    env.put("INVALIDATOR_WORKER_CLAIM_INTERVAL", "500ms");
    env.put("INVALIDATOR_WORKFLOWS_DEFINITIONS", definitions(baseUrl));
    env.put("INVALIDATOR_WORKFLOWS_SCHEMA", schema);
    env.put("INVALIDATOR_WORKFLOWS_CONCURRENCY", Integer.toString(CONCURRENCY));
    return pb.start();
  }

  private static void awaitReady(Process p, Path log, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!Files.readString(log, StandardCharsets.UTF_8).contains("invalidator running")) {
      if (!p.isAlive()) {
        throw new IllegalStateException("the daemon exited with " + p.exitValue() + "; see " + log);
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the daemon did not start within " + timeout + "; " + log);
      }
      Thread.sleep(50); // polling a log file for start-up, not a correctness wait
    }
  }

  @Test
  void killedMidWorkflowEveryWorkflowCompletesAndEveryStepTakesEffectOnceByKey() throws Exception {
    long started = System.nanoTime();
    logs = Path.of("target", "workflow-kill-" + id);
    Files.createDirectories(logs);
    WireMockServer http = new WireMockServer(options().dynamicPort());
    http.start();
    // Calls take 20-250 ms, so that some kills land during a step's call.
    http.stubFor(
        post(urlPathMatching("/hooks/.*"))
            .willReturn(
                aResponse().withStatus(204).withRandomDelay(new UniformDistribution(20, 250))));
    HikariConfig hc = new HikariConfig();
    hc.setJdbcUrl(TestServers.postgresUrl());
    hc.setMaximumPoolSize(4);
    List<InvalidationEvent> events = new ArrayList<>();
    int kills = 0;
    int killsWithPending = 0;
    Process daemon = null;
    try (HikariDataSource ds = new HikariDataSource(hc);
        WorkflowAdmin admin = new WorkflowAdmin(ds, schema, Clock.systemUTC())) {
      OutboxSchema.migrate(ds, table);
      OutboxWriter writer = OutboxWriter.create(table);
      // Lives go on until KILLS kills have cut workflows off, at most MAX_KILLS kills in all.
      while (true) {
        daemon = launch(http.baseUrl());
        awaitReady(daemon, logs.resolve("daemon-" + launches + ".log"), Duration.ofSeconds(90));
        // Committed once the daemon is ready, so this life's workflows are under way while the
        // kill is chosen (committed before the start, they could all finish during it: CI).
        for (int i = 0; i < EVENTS_PER_LIFE; i++) {
          events.add(commit(ds, writer, "t" + (i % 2)));
        }
        if (killsWithPending == KILLS || kills == MAX_KILLS) {
          break;
        }
        // A random moment, then on until a workflow is under way, and the kill right after
        // seeing it (a kill chosen first and checked after found this life's workflows done).
        Thread.sleep(ThreadLocalRandom.current().nextLong(0, 300)); // the kill's moment
        long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (int idle = 1; pending(admin, events) == 0 && System.nanoTime() < waitUntil; idle++) {
          Thread.sleep(20); // waiting for a workflow mid-flight to kill
          if (idle % 25 == 0) {
            // Nothing in flight for half a second (this life's workflows already done): one more
            // event, so the kill still lands mid-workflow.
            events.add(commit(ds, writer, "t" + (idle % 2)));
          }
        }
        daemon.destroyForcibly().waitFor();
        kills++;
        // The daemon is gone, so what is PENDING now stays so until the next life recovers it:
        // this says whether the kill really cut workflows off (the one seen a moment before it
        // may have finished in between: CI).
        killsWithPending += pending(admin, events) > 0 ? 1 : 0;
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (!allSucceeded(admin, events)) {
        assertThat(daemon.isAlive()).as("the last daemon runs").isTrue();
        assertThat(System.nanoTime())
            .as(
                "every workflow SUCCESS within 90 s of the last start; states: %s",
                states(admin, events))
            .isLessThan(deadline);
        Thread.sleep(100); // waiting for the workflows to finish
      }
    } finally {
      if (daemon != null) {
        daemon.destroyForcibly().waitFor();
      }
      http.stop();
      dropAll();
    }

    List<Receipt> receipts = receipts(http);
    Check check = Check.of(expected(events), receipts);
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
    System.out.printf(
        "workflow-kill: kills=%d (with workflows pending %d) workflows=%d"
            + " effects=%d deliveries=%d duplicates=%d (same-key: calls a kill cut off) missing=%d foreign=%d"
            + " time=%ds%n",
        kills,
        killsWithPending,
        events.size(),
        check.expected,
        receipts.size(),
        check.duplicates,
        check.missing.size(),
        check.foreign.size(),
        seconds);
    assertThat(killsWithPending).as("kills with workflows mid-flight").isEqualTo(KILLS);
    assertThat(kills).isLessThanOrEqualTo(MAX_KILLS);
    assertThat(check.missing).as("effects never received").isEmpty();
    assertThat(check.foreign).as("deliveries under a key no step has").isEmpty();
    assertThat(check.distinctKeys).isEqualTo(events.size() * STEPS.size());
    // A kill interrupts at most one step of each workflow then running.
    assertThat(check.duplicates).isLessThanOrEqualTo((long) kills * CONCURRENCY);
    assertInStepOrder(receipts, events);

    // Negative controls, on the real receipts: an effect missing, an effect doubled under a key of
    // its own (a receiver deduplicating by key would apply it twice).
    List<Receipt> lost = new ArrayList<>(receipts);
    String gone = receipts.get(receipts.size() / 2).key;
    lost.removeIf(r -> r.key.equals(gone));
    assertThat(Check.of(expected(events), lost).missing).containsExactly(gone);
    List<Receipt> doubled = new ArrayList<>(receipts);
    Receipt one = receipts.get(0);
    doubled.add(new Receipt(one.key + ":retry-1", one.path, one.eventId, one.at + 1));
    Check twice = Check.of(expected(events), doubled);
    assertThat(twice.foreign).containsExactly(one.key + ":retry-1");
    assertThat(twice.distinctKeys).isEqualTo(events.size() * STEPS.size() + 1);
    // And a same-key redelivery is a duplicate, not a second effect.
    List<Receipt> again = new ArrayList<>(receipts);
    again.add(one);
    Check same = Check.of(expected(events), again);
    assertThat(same.foreign).isEmpty();
    assertThat(same.duplicates).isEqualTo(check.duplicates + 1);
  }

  private static InvalidationEvent commit(HikariDataSource ds, OutboxWriter writer, String tenant)
      throws SQLException {
    InvalidationEvent e =
        InvalidationEvent.builder()
            .tenant(tenant)
            .aggregate("plan", "p-" + UUID.randomUUID())
            .version(1)
            .eventType("plan.changed")
            .payload(new Payload(List.of("summary"), List.of(), List.of("plan")))
            .build();
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      writer.append(c, e);
      c.commit();
    }
    return e;
  }

  /** Workflow id to the state the engine has for it, "" before it exists. */
  private static Map<String, String> states(WorkflowAdmin admin, List<InvalidationEvent> events) {
    Map<String, String> out = new LinkedHashMap<>();
    for (InvalidationEvent e : events) {
      String wf = WorkflowEngine.workflowId(WORKFLOW, e);
      String state;
      try {
        state = admin.get(wf).map(WorkflowAdmin.Summary::state).orElse("");
      } catch (RuntimeException ex) {
        state = ""; // the engine's tables do not exist before the first start
      }
      out.put(wf, state);
    }
    return out;
  }

  private static int pending(WorkflowAdmin admin, List<InvalidationEvent> events) {
    return (int) states(admin, events).values().stream().filter("PENDING"::equals).count();
  }

  private static boolean allSucceeded(WorkflowAdmin admin, List<InvalidationEvent> events) {
    return states(admin, events).values().stream().allMatch("SUCCESS"::equals);
  }

  /** The key each (step, event) effect must arrive under. */
  private static Map<String, String> expected(List<InvalidationEvent> events) {
    Map<String, String> out = new LinkedHashMap<>();
    for (InvalidationEvent e : events) {
      for (String step : STEPS) {
        out.put("/hooks/" + step + " " + e.eventId(), WORKFLOW + "." + step + ":" + e.eventId());
      }
    }
    return out;
  }

  /** One POST as the receiver logged it. */
  record Receipt(String key, String path, String eventId, long at) {}

  private static List<Receipt> receipts(WireMockServer http) throws Exception {
    List<Receipt> out = new ArrayList<>();
    for (var se : http.getAllServeEvents()) {
      LoggedRequest r = se.getRequest();
      String eventId = JSON.readTree(r.getBodyAsString()).path("event_id").asText("");
      out.add(
          new Receipt(r.getHeader("webhook-id"), r.getUrl(), eventId, r.getLoggedDate().getTime()));
    }
    out.sort(Comparator.comparingLong(Receipt::at));
    return out;
  }

  /**
   * The checker. An effect is a (step path, event id) pair; it must arrive, and only under its
   * expected key. Deliveries beyond the first of a key are duplicates (same-key retries, which a
   * receiver deduplicating by key applies once); a delivery under any other key is foreign (a
   * second effect the receiver could not tell from a new one).
   */
  static final class Check {
    final int expected;
    final List<String> missing = new ArrayList<>();
    final Set<String> foreign = new TreeSet<>();
    long duplicates;
    int distinctKeys;

    private Check(int expected) {
      this.expected = expected;
    }

    static Check of(Map<String, String> expectedKeys, List<Receipt> receipts) {
      Check c = new Check(expectedKeys.size());
      Map<String, Long> byKey = new HashMap<>();
      Set<String> keys = new java.util.HashSet<>(expectedKeys.values());
      for (Receipt r : receipts) {
        byKey.merge(r.key, 1L, Long::sum);
        String want = expectedKeys.get(r.path + " " + r.eventId);
        if (want == null || !want.equals(r.key) || !keys.contains(r.key)) {
          c.foreign.add(r.key);
        }
      }
      c.distinctKeys = byKey.size();
      for (Map.Entry<String, String> e : expectedKeys.entrySet()) {
        Long n = byKey.get(e.getValue());
        if (n == null) {
          c.missing.add(e.getValue());
        } else {
          c.duplicates += n - 1;
        }
      }
      return c;
    }
  }

  /** Each workflow's steps took effect in order: a's first receipt before b's, b's before c's. */
  private static void assertInStepOrder(List<Receipt> receipts, List<InvalidationEvent> events) {
    Map<String, Long> first = new HashMap<>();
    for (Receipt r : receipts) {
      first.putIfAbsent(r.key, r.at);
    }
    for (InvalidationEvent e : events) {
      for (int i = 1; i < STEPS.size(); i++) {
        String prev = WORKFLOW + "." + STEPS.get(i - 1) + ":" + e.eventId();
        String next = WORKFLOW + "." + STEPS.get(i) + ":" + e.eventId();
        assertThat(first.get(prev)).as("%s before %s", prev, next).isLessThan(first.get(next));
      }
    }
  }

  private void dropAll() throws SQLException {
    try (Connection c = java.sql.DriverManager.getConnection(TestServers.postgresUrl());
        Statement s = c.createStatement()) {
      s.execute("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + table.qualified() + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + table.schema() + "." + table.table() + "_schema_history");
      s.execute("DROP FUNCTION IF EXISTS " + table.schema() + "." + table.table() + "_wakeup()");
    }
  }
}
