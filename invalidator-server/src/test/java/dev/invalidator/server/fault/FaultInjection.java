package dev.invalidator.server.fault;

import dev.invalidator.core.ApplyResult;
import dev.invalidator.core.Backoff;
import dev.invalidator.core.DeadLetter;
import dev.invalidator.core.Delivery;
import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.EventSource;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.server.PipelineInterceptor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fault-injection suite's hooks, registered as a {@link PipelineInterceptor} on the test class
 * path (so every daemon the suite launches has them, and the shipped daemon never does), off unless
 * their environment variables are set. They make a process die (halt, no shutdown hooks: what
 * SIGKILL does) at precise points that an outside kill hits only by luck:
 *
 * <ul>
 *   <li>{@code INVALIDATOR_FAULT_HALT_BEFORE_ACK=p}: a worker halts with probability {@code p} per
 *       batch after applying it and before {@code XACK};
 *   <li>{@code INVALIDATOR_FAULT_HALT_AFTER_PUBLISH=p}: a relay halts with probability {@code p}
 *       per batch after publishing it and before marking the rows relayed;
 *   <li>{@code INVALIDATOR_FAULT_STATS_FILE=path}: a worker writes its apply counters to {@code
 *       path} twice a second (the suite sums them into its report).
 * </ul>
 */
public final class FaultInjection implements PipelineInterceptor {
  private static final Logger log = LoggerFactory.getLogger(FaultInjection.class);

  private static double probability(String env) {
    String v = System.getenv(env);
    if (v == null || v.isBlank()) {
      return 0;
    }
    return Double.parseDouble(v);
  }

  private static boolean strikes(double p) {
    return p > 0 && ThreadLocalRandom.current().nextDouble() < p;
  }

  @Override
  public EventSource source(EventSource s) {
    double p = probability("INVALIDATOR_FAULT_HALT_BEFORE_ACK");
    if (p <= 0) {
      return s;
    }
    log.warn("fault injection: halting before XACK with probability {}", p);
    return new EventSource() {
      @Override
      public List<Delivery> poll(int max, Duration block) throws InterruptedException {
        return s.poll(max, block);
      }

      @Override
      public List<Delivery> claimAbandoned(Duration minIdle, int max) {
        return s.claimAbandoned(minIdle, max);
      }

      @Override
      public List<Delivery> claimDueRetries(Backoff backoff, int max) {
        return s.claimDueRetries(backoff, max);
      }

      @Override
      public void ack(Collection<String> ids) {
        if (strikes(p)) {
          Runtime.getRuntime().halt(137);
        }
        s.ack(ids);
      }
    };
  }

  @Override
  public EventPublisher publisher(EventPublisher pub) {
    double p = probability("INVALIDATOR_FAULT_HALT_AFTER_PUBLISH");
    if (p <= 0) {
      return pub;
    }
    log.warn("fault injection: halting between publish and mark with probability {}", p);
    return batch -> {
      pub.publish(batch);
      if (strikes(p)) {
        Runtime.getRuntime().halt(137);
      }
    };
  }

  /** Counts applies by result and writes them to the stats file; NONE when not configured. */
  @Override
  public WorkerListener workerListener(WorkerListener inner) {
    String file = System.getenv("INVALIDATOR_FAULT_STATS_FILE");
    if (file == null || file.isBlank()) {
      return inner;
    }
    Path path = Path.of(file);
    Map<ApplyResult.Status, AtomicLong> counts = new java.util.EnumMap<>(ApplyResult.Status.class);
    for (ApplyResult.Status st : ApplyResult.Status.values()) {
      counts.put(st, new AtomicLong());
    }
    AtomicLong dead = new AtomicLong();
    AtomicLong retried = new AtomicLong();
    Thread writer =
        new Thread(
            () -> {
              while (!Thread.currentThread().isInterrupted()) {
                StringBuilder b = new StringBuilder();
                counts.forEach((k, v) -> b.append(k).append('=').append(v.get()).append('\n'));
                b.append("DEAD=").append(dead.get()).append('\n');
                b.append("RETRIED=").append(retried.get()).append('\n');
                try {
                  Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
                  Files.writeString(tmp, b, StandardCharsets.UTF_8);
                  Files.move(
                      tmp,
                      path,
                      StandardCopyOption.REPLACE_EXISTING,
                      StandardCopyOption.ATOMIC_MOVE);
                  Thread.sleep(500);
                } catch (IOException ex) {
                  log.debug("stats file", ex);
                } catch (InterruptedException ex) {
                  return;
                }
              }
            },
            "fault-stats");
    writer.setDaemon(true);
    writer.start();
    return new WorkerListener() {
      @Override
      public void applied(
          String target, InvalidationEvent event, ApplyResult result, Instant c, Instant a) {
        counts.get(result.status()).incrementAndGet();
        inner.applied(target, event, result, c, a);
      }

      @Override
      public void deadLettered(DeadLetter d) {
        dead.incrementAndGet();
        inner.deadLettered(d);
      }

      @Override
      public void retried(Delivery d) {
        retried.incrementAndGet();
        inner.retried(d);
      }

      @Override
      public void failed(String target, Delivery d, RuntimeException e) {
        inner.failed(target, d, e);
      }

      @Override
      public void consumed(Delivery d, long lag) {
        inner.consumed(d, lag);
      }

      @Override
      public void circuitStateChanged(String t, String from, String to) {
        inner.circuitStateChanged(t, from, to);
      }

      @Override
      public void loopError(Throwable e) {
        inner.loopError(e);
      }
    };
  }
}
