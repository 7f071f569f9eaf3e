package dev.invalidator.workflows;

import dev.invalidator.core.DeadLetters;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Target;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * Runs {@link WorkflowDefinition}s on DBOS Transact, whose state lives in PostgreSQL (a schema of
 * its own, default {@code dbos}, next to the outbox).
 *
 * <p>How it works. {@link #submit} starts, for each workflow whose event types include the event's,
 * a DBOS workflow with the id {@code <workflow>:<tenant>:<event id>}: a redelivered event finds its
 * workflow already there and starts nothing. The workflow runs its steps in order; each
 * target-calling step is a DBOS step, checkpointed in PostgreSQL when it completes, so a process
 * that dies between two steps resumes, on restart (same {@code executorId}), at the next one
 * without repeating the finished ones. Waits and callback timeouts are durable too: their deadline
 * is recorded, not restarted. A step dying half-way runs again on recovery: every HTTP step sends a
 * stable idempotency key ({@code webhook-id}) so the receiver can tell.
 *
 * <pre>{@code
 * WorkflowEngine engine = WorkflowEngine.builder()
 *     .dataSource(dataSource)
 *     .definition(planChange)
 *     .deadLetters(deadLetters)
 *     .build();
 * engine.start();
 * engine.submit(event);
 * }</pre>
 */
public interface WorkflowEngine extends AutoCloseable {

  /** A builder; {@link Builder#build()} checks every value. */
  static Builder builder() {
    return new Builder();
  }

  /** The id of the workflow {@code definition} runs for {@code event}. */
  static String workflowId(String definition, InvalidationEvent event) {
    return definition + ":" + event.tenantId() + ":" + event.eventId();
  }

  /**
   * Launches the engine: creates or migrates its schema, then resumes the workflows this executor
   * left unfinished.
   */
  void start();

  /**
   * Starts the workflows of {@code event}'s type, unless they exist already.
   *
   * @return what happened, per workflow
   */
  List<Submission> submit(InvalidationEvent event);

  /**
   * A {@link Target} named {@code workflows} that submits each event: {@code APPLIED} when it
   * started a workflow, {@code DUPLICATE} when every one existed already, {@code STALE_SKIPPED}
   * when no workflow takes the event's type.
   */
  Target asTarget();

  /**
   * Delivers a callback to the {@code wait-for-callback} step {@code step} of workflow {@code
   * workflowId}.
   *
   * @return false when no such workflow is unfinished
   */
  boolean callback(String workflowId, String step, String body);

  /** The configured workflows. */
  List<WorkflowDefinition> definitions();

  /** Stops the engine; unfinished workflows resume when an engine with the same executor starts. */
  @Override
  void close();

  /** What {@link #submit} did for one workflow. */
  record Submission(String workflowId, boolean started) {}

  /** Settings of a {@link WorkflowEngine}. */
  final class Builder {
    /** Default PostgreSQL schema of the engine's tables. */
    public static final String DEFAULT_SCHEMA = "dbos";

    /** Default executor id: the id whose unfinished workflows a restarted process resumes. */
    public static final String DEFAULT_EXECUTOR_ID = "local";

    /** Default number of workflows one process runs at once. */
    public static final int DEFAULT_CONCURRENCY = 16;

    /** Default poll interval of the workflow queue. */
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofMillis(500);

    static final Pattern SCHEMA = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    static final Pattern EXECUTOR = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    DataSource dataSource;
    String schema = DEFAULT_SCHEMA;
    String executorId = DEFAULT_EXECUTOR_ID;
    int concurrency = DEFAULT_CONCURRENCY;
    Duration pollInterval = DEFAULT_POLL_INTERVAL;
    final List<WorkflowDefinition> definitions = new ArrayList<>();
    DeadLetters deadLetters;
    MeterRegistry meterRegistry = new SimpleMeterRegistry();
    OpenTelemetry openTelemetry = OpenTelemetry.noop();
    boolean durableThrottleWait = true;

    Builder() {}

    /**
     * Off: a step a receiver throttles (HTTP 429) waits the advertised time in memory, in its
     * target's token bucket, so a restart forgets it. Only for the tests' negative controls.
     */
    Builder durableThrottleWait(boolean durable) {
      this.durableThrottleWait = durable;
      return this;
    }

    /** Required: the PostgreSQL (12 or newer) that holds the engine's state. */
    public Builder dataSource(DataSource dataSource) {
      this.dataSource = dataSource;
      return this;
    }

    public Builder schema(String schema) {
      this.schema = schema;
      return this;
    }

    public Builder executorId(String executorId) {
      this.executorId = executorId;
      return this;
    }

    public Builder concurrency(int concurrency) {
      this.concurrency = concurrency;
      return this;
    }

    public Builder pollInterval(Duration pollInterval) {
      this.pollInterval = pollInterval;
      return this;
    }

    public Builder definition(WorkflowDefinition definition) {
      definitions.add(Objects.requireNonNull(definition, "definition"));
      return this;
    }

    public Builder definitions(List<WorkflowDefinition> definitions) {
      definitions.forEach(this::definition);
      return this;
    }

    /** Required: where a step's event goes when its retries are exhausted or it is refused. */
    public Builder deadLetters(DeadLetters deadLetters) {
      this.deadLetters = deadLetters;
      return this;
    }

    public Builder meterRegistry(MeterRegistry meterRegistry) {
      this.meterRegistry = meterRegistry;
      return this;
    }

    public Builder openTelemetry(OpenTelemetry openTelemetry) {
      this.openTelemetry = openTelemetry;
      return this;
    }

    public WorkflowEngine build() {
      if (dataSource == null) {
        throw new IllegalArgumentException("workflows: dataSource is required");
      }
      if (deadLetters == null) {
        throw new IllegalArgumentException("workflows: deadLetters is required");
      }
      if (schema == null || !SCHEMA.matcher(schema).matches()) {
        throw new IllegalArgumentException(
            "workflows.schema '" + schema + "' must match " + SCHEMA.pattern());
      }
      if (executorId == null || !EXECUTOR.matcher(executorId).matches()) {
        throw new IllegalArgumentException(
            "workflows.executorId '" + executorId + "' must match " + EXECUTOR.pattern());
      }
      if (concurrency < 1 || concurrency > 1000) {
        throw new IllegalArgumentException(
            "workflows.concurrency must be 1-1000, got " + concurrency);
      }
      if (pollInterval == null || pollInterval.toMillis() < 10) {
        throw new IllegalArgumentException("workflows.pollInterval must be at least 10ms");
      }
      Set<String> names = new HashSet<>();
      for (WorkflowDefinition d : definitions) {
        if (!names.add(d.name())) {
          throw new IllegalArgumentException("workflow name '" + d.name() + "' is used twice");
        }
      }
      return new DbosWorkflowEngine(this);
    }
  }
}
