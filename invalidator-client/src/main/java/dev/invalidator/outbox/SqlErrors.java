package dev.invalidator.outbox;

import dev.invalidator.core.InvalidatorException;
import java.sql.SQLException;

/** The one place where SQL errors are classified as retryable or permanent. */
final class SqlErrors {
  private SqlErrors() {}

  /**
   * Wraps {@code ex} in an {@link InvalidatorException}: retryable for lost connections,
   * serialization failures and deadlocks, lack of resources, operator intervention and lock
   * timeouts; permanent for everything else (a missing table, a refused privilege, bad data).
   */
  static InvalidatorException translate(String what, SQLException ex) {
    String state = ex.getSQLState();
    return new InvalidatorException(
        what + " failed: " + ex.getMessage() + " (SQLState " + state + ")", retryable(state), ex);
  }

  static boolean retryable(String state) {
    if (state == null || state.length() < 2) {
      return true; // the driver gave no state: most often an I/O problem
    }
    return switch (state.substring(0, 2)) {
      case "08", "40", "53", "57", "58" -> true;
      case "55" -> state.equals("55P03");
      default -> false;
    };
  }
}
