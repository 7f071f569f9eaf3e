package dev.invalidator.workflows;

import dev.dbos.transact.DBOS;
import dev.dbos.transact.StartWorkflowOptions;
import dev.dbos.transact.config.DBOSConfig;
import dev.dbos.transact.workflow.Queue;
import dev.dbos.transact.workflow.WorkflowState;
import dev.dbos.transact.workflow.WorkflowStatus;
import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.EventCodec;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.Target;
import dev.invalidator.workflows.internal.WorkflowRunner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DBOS-backed {@link WorkflowEngine}. Workflows are enqueued on one DBOS queue ({@code
 * invalidator-workflows}) whose worker concurrency bounds how many run at once in this process; the
 * queue, like everything else of DBOS, is rows in PostgreSQL, so a queued workflow survives a crash
 * as well as a running one.
 */
final class DbosWorkflowEngine implements WorkflowEngine {
  private static final Logger log = LoggerFactory.getLogger(DbosWorkflowEngine.class);

  static final String APP_NAME = "invalidator";

  /**
   * DBOS recovers only the workflows of its own application version; ours is fixed, because the one
   * workflow function interprets definitions and does not change with them.
   */
  static final String APP_VERSION = "invalidator-workflows-1";

  static final String QUEUE = "invalidator-workflows";

  private final DBOS dbos;
  private final Map<String, WorkflowDefinition> definitions = new LinkedHashMap<>();
  private final Map<String, List<WorkflowDefinition>> byEventType = new LinkedHashMap<>();
  private final WorkflowMetrics metrics;
  private final WorkflowRunner runner;
  private final Queue queue;

  DbosWorkflowEngine(WorkflowEngine.Builder b) {
    for (WorkflowDefinition d : b.definitions) {
      definitions.put(d.name(), d);
      for (String type : d.eventTypes()) {
        byEventType.computeIfAbsent(type, t -> new ArrayList<>()).add(d);
      }
    }
    DBOSConfig config =
        DBOSConfig.defaults(APP_NAME)
            .withDataSource(b.dataSource)
            .withDatabaseSchema(b.schema)
            .withExecutorId(b.executorId)
            .withAppVersion(APP_VERSION);
    this.dbos = new DBOS(config);
    this.metrics = new WorkflowMetrics(b.meterRegistry);
    InvalidationWorkflow impl =
        new InvalidationWorkflow(
            dbos,
            Map.copyOf(definitions),
            b.deadLetters,
            metrics,
            new WorkflowSpans(b.openTelemetry),
            b.durableThrottleWait);
    this.runner = dbos.registerProxy(WorkflowRunner.class, impl);
    this.queue =
        new Queue(QUEUE).withWorkerConcurrency(b.concurrency).withPollingInterval(b.pollInterval);
    dbos.registerQueue(queue);
  }

  @Override
  public void start() {
    dbos.launch();
    log.info("workflow engine started: {} workflows", definitions.size());
  }

  @Override
  public List<Submission> submit(InvalidationEvent event) {
    List<WorkflowDefinition> defs = byEventType.getOrDefault(event.eventType(), List.of());
    List<Submission> out = new ArrayList<>(defs.size());
    for (WorkflowDefinition def : defs) {
      String id = WorkflowEngine.workflowId(def.name(), event);
      if (dbos.getWorkflowStatus(id).isPresent()) {
        metrics.duplicate();
        out.add(new Submission(id, false));
        continue;
      }
      String encoded = EventCodec.encode(event);
      Map<String, Object> attributes = new LinkedHashMap<>();
      attributes.put(WorkflowAdmin.TENANT, event.tenantId());
      attributes.put(WorkflowAdmin.WORKFLOW, def.name());
      attributes.put(WorkflowAdmin.EVENT_TYPE, event.eventType());
      dbos.startWorkflow(
          () -> runner.run(def.name(), encoded),
          new StartWorkflowOptions(id).withQueue(queue).withAttributes(attributes));
      metrics.started(def.name());
      out.add(new Submission(id, true));
    }
    return out;
  }

  @Override
  public Target asTarget() {
    return new Target() {
      @Override
      public String name() {
        return "workflows";
      }

      @Override
      public List<ApplyResult> apply(List<InvalidationEvent> events) {
        List<ApplyResult> results = new ArrayList<>(events.size());
        for (InvalidationEvent e : events) {
          try {
            List<Submission> s = submit(e);
            if (s.isEmpty()) {
              results.add(ApplyResult.STALE_SKIPPED);
            } else if (s.stream().anyMatch(Submission::started)) {
              results.add(ApplyResult.APPLIED);
            } else {
              results.add(ApplyResult.DUPLICATE);
            }
          } catch (RuntimeException ex) {
            results.add(
                ApplyResult.failed(
                    new InvalidatorException(
                        "cannot start the workflows of event " + e.eventId() + ": " + ex, true)));
          }
        }
        return results;
      }
    };
  }

  @Override
  public boolean callback(String workflowId, String step, String body) {
    Optional<WorkflowStatus> status = dbos.getWorkflowStatus(workflowId);
    if (status.isEmpty() || !isUnfinished(status.get().status())) {
      return false;
    }
    // The key makes a repeated callback (a client retrying its POST) a no-op.
    dbos.send(workflowId, body == null ? "" : body, step, workflowId + "/" + step);
    return true;
  }

  static boolean isUnfinished(WorkflowState state) {
    return state == WorkflowState.PENDING
        || state == WorkflowState.ENQUEUED
        || state == WorkflowState.DELAYED;
  }

  @Override
  public List<WorkflowDefinition> definitions() {
    return List.copyOf(definitions.values());
  }

  @Override
  public void close() {
    dbos.close();
  }
}
