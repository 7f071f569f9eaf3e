package dev.invalidator.server.consistency;

import dev.invalidator.redis.CacheInspector;
import java.util.List;
import java.util.Locale;

/**
 * The classification of one check, shared by the observer and {@code invalidator verify}.
 *
 * <ul>
 *   <li>{@code unknown}: the database row is newer than the version the check was waiting for (it
 *       changed again meanwhile): no verdict now, re-checked later;
 *   <li>{@code inconsistent}: a view a reader would be served (servable under the fence) is older
 *       than the database;
 *   <li>{@code consistent}: otherwise, including when nothing is cached (a reader then loads from
 *       the database).
 * </ul>
 */
public enum Verdict {
  CONSISTENT,
  INCONSISTENT,
  UNKNOWN;

  /** The label value in metrics and JSON. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * Classifies a check.
   *
   * @param expected the version the database row was known to have at least T ago
   * @param database the row's version read now, after {@code served}
   * @param served what Redis would serve, read before the database
   */
  public static Verdict of(long expected, long database, CacheInspector.Served served) {
    if (database > expected) {
      return UNKNOWN;
    }
    List<CacheInspector.View> stale = served.servableOlderThan(database);
    return stale.isEmpty() ? CONSISTENT : INCONSISTENT;
  }
}
