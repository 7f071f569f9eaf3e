package dev.invalidator.workflows;

import dev.dbos.transact.DBOSClient;
import dev.dbos.transact.workflow.ForkOptions;
import dev.dbos.transact.workflow.ListWorkflowsInput;
import dev.dbos.transact.workflow.StepInfo;
import dev.dbos.transact.workflow.WorkflowState;
import dev.dbos.transact.workflow.WorkflowStatus;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;

/**
 * Operations on workflows for the CLI and the status page, through DBOS's client: it needs only the
 * database, not a running engine. A retried or forked workflow runs in whichever daemon's engine
 * polls the workflow queue.
 */
public final class WorkflowAdmin implements AutoCloseable {
  static final String TENANT = "tenant";
  static final String WORKFLOW = "workflow";
  static final String EVENT_TYPE = "eventType";

  private static final Duration COUNT_CACHE = Duration.ofSeconds(5);

  private final DBOSClient client;
  private final DataSource dataSource;
  private final String schema;
  private final Clock clock;
  private final Map<String, Long> counts = new ConcurrentHashMap<>();
  private volatile Instant countedAt = Instant.EPOCH;
  private volatile Counts lastCounts;

  /**
   * An admin over the engine tables in {@code schema} (default {@code dbos}) of {@code dataSource}.
   */
  public WorkflowAdmin(DataSource dataSource, String schema, Clock clock) {
    if (schema == null || !WorkflowEngine.Builder.SCHEMA.matcher(schema).matches()) {
      throw new IllegalArgumentException("workflows.schema '" + schema + "' is not a valid name");
    }
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.schema = schema;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.client = new DBOSClient(dataSource, schema);
  }

  /** A workflow's state in one line. */
  public record Summary(
      String id,
      String workflow,
      String tenant,
      String eventType,
      String state,
      Instant createdAt,
      Instant updatedAt,
      String error) {}

  /** One step as the engine recorded it. */
  public record StepRecord(
      int index, String name, Instant startedAt, Instant completedAt, String output, String error) {

    /** The step's duration, or null while it runs. */
    public Duration duration() {
      return startedAt == null || completedAt == null
          ? null
          : Duration.between(startedAt, completedAt);
    }
  }

  /**
   * Filters of {@link #list}: null for "any".
   *
   * @param state a DBOS state ({@code PENDING}, {@code ENQUEUED}, {@code SUCCESS}, {@code ERROR},
   *     {@code CANCELLED}, {@code MAX_RECOVERY_ATTEMPTS_EXCEEDED})
   * @param olderThan only workflows created at least this long ago
   * @param newerThan only workflows created at most this long ago
   */
  public record Filter(
      String tenant,
      String workflow,
      String state,
      Duration olderThan,
      Duration newerThan,
      int limit) {}

  /** The workflows matching {@code filter}, newest first. */
  public List<Summary> list(Filter filter) {
    ListWorkflowsInput in =
        new ListWorkflowsInput()
            .withSortDesc(true)
            .withLimit(filter.limit() > 0 ? filter.limit() : 100)
            .withLoadInput(false)
            .withLoadOutput(false);
    Map<String, Object> attributes = new java.util.LinkedHashMap<>();
    if (filter.tenant() != null) {
      attributes.put(TENANT, filter.tenant());
    }
    if (filter.workflow() != null) {
      attributes.put(WORKFLOW, filter.workflow());
    }
    if (!attributes.isEmpty()) {
      in = in.withAttributes(attributes);
    }
    if (filter.state() != null) {
      in = in.withStatus(state(filter.state()));
    }
    Instant now = clock.instant();
    if (filter.olderThan() != null) {
      in = in.withEndTime(now.minus(filter.olderThan()));
    }
    if (filter.newerThan() != null) {
      in = in.withStartTime(now.minus(filter.newerThan()));
    }
    List<Summary> out = new ArrayList<>();
    for (WorkflowStatus s : client.listWorkflows(in)) {
      out.add(summary(s));
    }
    return out;
  }

  /** The workflow {@code id}, if it exists. */
  public Optional<Summary> get(String id) {
    return client.getWorkflowStatus(id).map(WorkflowAdmin::summary);
  }

  /** The steps {@code id} has recorded, in order. */
  public List<StepRecord> steps(String id) {
    List<StepRecord> out = new ArrayList<>();
    for (StepInfo s : client.listWorkflowSteps(id)) {
      out.add(
          new StepRecord(
              s.functionId(),
              s.functionName(),
              s.startedAt(),
              s.completedAt(),
              s.output() == null ? null : String.valueOf(s.output()),
              s.error() == null ? null : s.error().message()));
    }
    return out;
  }

  /**
   * Runs a stopped workflow again. A failed one ({@code ERROR}) is forked at its first failed step
   * under the id {@code <id>:retry-<n>}: the steps before it are copied, not repeated. A cancelled
   * one, or one past its recovery attempts, resumes where it stopped, under its own id.
   *
   * @return the id of the workflow that now runs
   * @throws IllegalStateException when the workflow does not exist, succeeded or still runs
   */
  public String retry(String id) {
    Summary s = get(id).orElseThrow(() -> new IllegalStateException("no workflow with id " + id));
    switch (s.state()) {
      case "ERROR" -> {
        int from = 0;
        for (StepRecord step : steps(id)) {
          if (step.error() != null) {
            from = step.index();
            break;
          }
        }
        int n =
            client
                    .listWorkflows(new ListWorkflowsInput().withForkedFrom(id).withLoadInput(false))
                    .size()
                + 1;
        String forkId = id + ":retry-" + n;
        client.forkWorkflow(id, from, new ForkOptions(forkId).withQueue(DbosWorkflowEngine.QUEUE));
        return forkId;
      }
      case "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED" -> {
        client.resumeWorkflow(id);
        return id;
      }
      case "SUCCESS" -> throw new IllegalStateException("workflow " + id + " succeeded already");
      default ->
          throw new IllegalStateException(
              "workflow " + id + " is " + s.state() + ": still running or queued");
    }
  }

  /**
   * Cancels {@code id}: it stops before its next step. The step that runs finishes first.
   *
   * @throws IllegalStateException when it does not exist or has finished
   */
  public void cancel(String id) {
    Summary s = get(id).orElseThrow(() -> new IllegalStateException("no workflow with id " + id));
    if (!DbosWorkflowEngine.isUnfinished(WorkflowState.valueOf(s.state()))) {
      throw new IllegalStateException("workflow " + id + " has finished: " + s.state());
    }
    client.cancelWorkflow(id);
  }

  /**
   * Workflows by {@code <workflow>/<state>} (DBOS's states), counted at most every 5 s (one grouped
   * query on the engine's status table).
   */
  public Map<String, Long> countsByState() {
    return count().byDbosState();
  }

  /**
   * Workflows of every definition by the state an operator reads, each key present: {@code running}
   * (a step runs or is about to), {@code waiting} (in a durable wait or waiting for a callback, or
   * queued for a free slot), {@code succeeded}, {@code failed} (ended in {@code ERROR} or past its
   * recovery attempts) and {@code cancelled}. Counted with {@link #countsByState()}, at most every
   * 5 s.
   */
  public Map<String, Long> countsByDisplayState() {
    return count().byDisplayState();
  }

  /** The five states of {@link #countsByDisplayState()}, in the order the status page shows. */
  public static final List<String> DISPLAY_STATES =
      List.of("running", "waiting", "succeeded", "failed", "cancelled");

  private record Counts(Map<String, Long> byDbosState, Map<String, Long> byDisplayState) {}

  private Counts count() {
    Instant now = clock.instant();
    Counts c = lastCounts;
    if (c != null && Duration.between(countedAt, now).compareTo(COUNT_CACHE) < 0) {
      return c;
    }
    // A PENDING workflow waits when it is inside a durable sleep: DBOS records a sleep (also the
    // timeout of a recv, at the recv's position + 1) as a DBOS.sleep step whose completion time is
    // the wake-up time, written when the sleep starts. A recv that got its message early records
    // DBOS.recv just before that sleep's position; then the sleep no longer counts.
    String sql =
        "SELECT w.attributes->>'workflow', w.status,"
            + " w.status = 'PENDING' AND EXISTS (SELECT 1 FROM \"%1$s\".operation_outputs s"
            + "   WHERE s.workflow_uuid = w.workflow_uuid AND s.function_name = 'DBOS.sleep'"
            + "   AND s.completed_at_epoch_ms > ?"
            + "   AND NOT EXISTS (SELECT 1 FROM \"%1$s\".operation_outputs r"
            + "     WHERE r.workflow_uuid = s.workflow_uuid AND r.function_id = s.function_id - 1"
            + "     AND r.function_name = 'DBOS.recv')),"
            + " count(*)"
            + " FROM \"%1$s\".workflow_status w"
            + " WHERE w.attributes->>'workflow' IS NOT NULL GROUP BY 1, 2, 3";
    Map<String, Long> byState = new java.util.HashMap<>();
    Map<String, Long> display = new java.util.LinkedHashMap<>();
    DISPLAY_STATES.forEach(d -> display.put(d, 0L));
    try (Connection conn = dataSource.getConnection();
        PreparedStatement ps = conn.prepareStatement(String.format(Locale.ROOT, sql, schema))) {
      ps.setLong(1, now.toEpochMilli());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String state = rs.getString(2);
          long n = rs.getLong(4);
          byState.merge(rs.getString(1) + "/" + state, n, Long::sum);
          display.merge(displayState(state, rs.getBoolean(3)), n, Long::sum);
        }
      }
    } catch (SQLException e) {
      throw new IllegalStateException("cannot count workflows: " + e.getMessage(), e);
    }
    counts.replaceAll((k, v) -> 0L);
    counts.putAll(byState);
    c = new Counts(Map.copyOf(counts), java.util.Collections.unmodifiableMap(display));
    lastCounts = c;
    countedAt = now;
    return c;
  }

  static String displayState(String dbosState, boolean inDurableWait) {
    return switch (dbosState) {
      case "PENDING" -> inDurableWait ? "waiting" : "running";
      case "ENQUEUED", "DELAYED" -> "waiting";
      case "SUCCESS" -> "succeeded";
      case "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED" -> "failed";
      case "CANCELLED" -> "cancelled";
      default -> "running";
    };
  }

  /**
   * Registers {@code invalidator_workflows{workflow,state}} for each of {@code workflows} and each
   * DBOS state.
   */
  public void bindStateGauges(MeterRegistry registry, List<String> workflows) {
    for (String w : workflows) {
      for (WorkflowState st : WorkflowState.values()) {
        String key = w + "/" + st.name();
        Gauge.builder("invalidator.workflows", this, a -> countOrZero(a, key))
            .description("Workflows by state (counted at most every 5 s)")
            .tags(WORKFLOW, w, "state", st.name().toLowerCase(Locale.ROOT))
            .register(registry);
      }
    }
  }

  private static double countOrZero(WorkflowAdmin a, String key) {
    try {
      return a.countsByState().getOrDefault(key, 0L);
    } catch (RuntimeException e) {
      return Double.NaN;
    }
  }

  private static WorkflowState state(String label) {
    try {
      return WorkflowState.valueOf(label.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "unknown workflow state '"
              + label
              + "'; one of "
              + java.util.Arrays.toString(WorkflowState.values()),
          e);
    }
  }

  private static Summary summary(WorkflowStatus s) {
    Map<String, Object> a = s.attributes() == null ? Map.of() : s.attributes();
    return new Summary(
        s.workflowId(),
        String.valueOf(a.getOrDefault(WORKFLOW, "")),
        String.valueOf(a.getOrDefault(TENANT, "")),
        String.valueOf(a.getOrDefault(EVENT_TYPE, "")),
        s.status().name(),
        s.createdAt(),
        s.updatedAt(),
        s.error() == null ? null : s.error().message());
  }

  @Override
  public void close() {
    client.close();
  }
}
