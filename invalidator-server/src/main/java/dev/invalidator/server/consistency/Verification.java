package dev.invalidator.server.consistency;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.redis.CacheInspector;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code invalidator verify} and the demo's after-drain figure: scans cached entries, compares what
 * a reader would be served with the database's version, and reports.
 *
 * <p>Each aggregate is checked once; one that looks stale is checked again {@code recheckAfter}
 * later (an invalidation may be in flight): if the row changed meanwhile the result is {@code
 * unknown}, if the served view is still older than the row it is {@code inconsistent}. Database
 * reads wait for the rate limit.
 */
public final class Verification {
  /** Inconsistencies kept as examples in the report. */
  public static final int EXAMPLES = 10;

  /**
   * A stale view.
   *
   * @param fence the fence, -1 when none
   */
  public record Example(
      AggregateRef aggregate, String view, long served, long database, long fence) {}

  /**
   * The report.
   *
   * @param entries cache entries the scan found (up to the sample)
   * @param aggregates distinct aggregates among them
   * @param noQuery aggregates of a type without an {@code observer.queries} entry (not checked)
   * @param noRow aggregates with a cached entry but no database row (not counted)
   */
  public record Report(
      long entries,
      long aggregates,
      long consistent,
      long inconsistent,
      long unknown,
      long noQuery,
      long noRow,
      List<Example> examples) {
    /** Aggregates with a verdict. */
    public long checked() {
      return consistent + inconsistent + unknown;
    }

    /** consistent / (consistent + inconsistent), NaN when nothing was decided. */
    public double ratio() {
      return Nines.ratio(consistent, inconsistent);
    }

    /** The figure for people, e.g. {@code 100%} or {@code 99.9% (3.0 nines)}. */
    public String text() {
      return Nines.format(consistent, inconsistent);
    }
  }

  /** Progress: aggregates done of the total. */
  @FunctionalInterface
  public interface Progress {
    void update(long done, long total);
  }

  private final CacheInspector inspector;
  private final VersionQueries queries;
  private final RateLimiter limiter;

  /**
   * @param maxDbReadsPerSecond database reads per second at most
   */
  public Verification(
      CacheInspector inspector, VersionQueries queries, double maxDbReadsPerSecond) {
    this.inspector = inspector;
    this.queries = queries;
    this.limiter = new RateLimiter(maxDbReadsPerSecond, System::nanoTime);
  }

  private record Suspect(AggregateRef ref, Set<String> views, long database, long checkedAt) {}

  /**
   * Scans up to {@code sample} entries of {@code tenant} and {@code type} (null: any) and checks
   * their aggregates.
   */
  public Report run(
      String tenant, String type, long sample, Duration recheckAfter, Progress progress)
      throws SQLException {
    Map<AggregateRef, Set<String>> found = new LinkedHashMap<>();
    long entries =
        inspector.scanEntries(
            tenant,
            type,
            sample,
            500,
            (KeyScheme.EntryKey e) ->
                found.computeIfAbsent(e.aggregate(), k -> new LinkedHashSet<>()).add(e.view()));
    long consistent = 0;
    long inconsistent = 0;
    long unknown = 0;
    long noQuery = 0;
    long noRow = 0;
    List<Example> examples = new ArrayList<>();
    List<Suspect> suspects = new ArrayList<>();
    long done = 0;
    long total = found.size();
    for (Map.Entry<AggregateRef, Set<String>> e : found.entrySet()) {
      AggregateRef ref = e.getKey();
      progress.update(done++, total);
      if (!queries.covers(ref.type())) {
        noQuery++;
        continue;
      }
      if (!limiter.acquire()) {
        break;
      }
      CacheInspector.Served served = inspector.inspect(ref, e.getValue());
      OptionalLong db = queries.version(ref);
      if (db.isEmpty()) {
        noRow++;
        continue;
      }
      if (served.servableOlderThan(db.getAsLong()).isEmpty()) {
        consistent++;
      } else {
        suspects.add(new Suspect(ref, e.getValue(), db.getAsLong(), System.nanoTime()));
      }
    }
    progress.update(total, total);
    for (Suspect s : suspects) {
      long wait = s.checkedAt() + recheckAfter.toNanos() - System.nanoTime();
      if (wait > 0) {
        LockSupport.parkNanos(wait);
      }
      if (Thread.currentThread().isInterrupted() || !limiter.acquire()) {
        break;
      }
      CacheInspector.Served served = inspector.inspect(s.ref(), s.views());
      OptionalLong db = queries.version(s.ref());
      if (db.isEmpty()) {
        noRow++;
        continue;
      }
      Verdict v = Verdict.of(s.database(), db.getAsLong(), served);
      switch (v) {
        case CONSISTENT -> consistent++;
        case UNKNOWN -> unknown++;
        case INCONSISTENT -> {
          inconsistent++;
          for (CacheInspector.View view : served.servableOlderThan(db.getAsLong())) {
            if (examples.size() < EXAMPLES) {
              examples.add(
                  new Example(
                      s.ref(), view.view(), view.version(), db.getAsLong(), served.fence()));
            }
          }
        }
      }
    }
    return new Report(
        entries,
        found.size(),
        consistent,
        inconsistent,
        unknown,
        noQuery,
        noRow,
        List.copyOf(examples));
  }
}
