package dev.invalidator.server;

import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.EventSource;
import dev.invalidator.core.WorkerListener;

/**
 * A seam around the pipeline's ports, found with {@link java.util.ServiceLoader} when the pipeline
 * is built. The shipped daemon registers none; a test suite registers one (a {@code
 * META-INF/services} file on its class path) to wrap the relay's publisher, the workers' stream or
 * their listener, for example to halt the process at an exact point. Each one found is logged at
 * start, so a daemon running with one is never mistaken for a plain one.
 */
public interface PipelineInterceptor {
  /** Wraps the relay's publisher. */
  default EventPublisher publisher(EventPublisher publisher) {
    return publisher;
  }

  /** Wraps each worker's stream. */
  default EventSource source(EventSource source) {
    return source;
  }

  /** Wraps the workers' listener. */
  default WorkerListener workerListener(WorkerListener listener) {
    return listener;
  }
}
