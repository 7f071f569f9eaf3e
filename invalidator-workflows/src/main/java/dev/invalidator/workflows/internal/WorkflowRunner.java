package dev.invalidator.workflows.internal;

/**
 * Not API: the interface DBOS proxies. Its one workflow interprets a {@code WorkflowDefinition}
 * step by step.
 */
public interface WorkflowRunner {
  /**
   * Runs workflow {@code definition} for the event, encoded as the stream entry's JSON.
   *
   * @return {@code completed}
   */
  String run(String definition, String event);
}
