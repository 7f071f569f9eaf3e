package dev.invalidator.outbox;

import dev.invalidator.core.InvalidatorException;

/**
 * The optional dependencies of {@code invalidator-client}: present only when the application has
 * them. A feature that needs one checks here first and, without it, refuses with a message naming
 * the artifacts to add, instead of a {@link NoClassDefFoundError} from deep inside.
 */
final class OptionalDependencies {
  private OptionalDependencies() {}

  /** OpenTelemetry's API (the writer records the caller's span when it is present). */
  static final boolean OPENTELEMETRY =
      present("io.opentelemetry.api.trace.Span") && present("io.opentelemetry.context.Context");

  static boolean present(String className) {
    try {
      Class.forName(className, false, OptionalDependencies.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError ex) {
      return false;
    }
  }

  /**
   * Throws unless Flyway and its module for {@code dialect}'s database are on the class path.
   *
   * @throws InvalidatorException (permanent) naming the missing artifacts
   */
  static void requireFlyway(OutboxDialect dialect, String feature) {
    boolean postgres = dialect == OutboxDialect.POSTGRESQL;
    String module =
        postgres ? "org.flywaydb:flyway-database-postgresql" : "org.flywaydb:flyway-mysql";
    String moduleClass =
        postgres
            ? "org.flywaydb.database.postgresql.PostgreSQLDatabaseType"
            : "org.flywaydb.database.mysql.MySQLDatabaseType";
    boolean core = present("org.flywaydb.core.Flyway");
    if (core && present(moduleClass)) {
      return;
    }
    throw new InvalidatorException(
        feature
            + " needs Flyway, which invalidator-client leaves to the application: add "
            + (core ? module : "org.flywaydb:flyway-core and " + module)
            + " to its dependencies (or create the table with the SQL of the README's outbox"
            + " table section, or run `invalidator migrate`)",
        false);
  }
}
