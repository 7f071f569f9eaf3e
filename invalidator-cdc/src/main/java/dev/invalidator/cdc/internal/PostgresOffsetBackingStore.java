package dev.invalidator.cdc.internal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.runtime.WorkerConfig;
import org.apache.kafka.connect.storage.MemoryOffsetBackingStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Debezium offsets in a PostgreSQL table, normally the outbox's own database. Internal: the CDC
 * relay configures it by class name, as Debezium's embedded engine instantiates offset stores
 * itself.
 *
 * <p>Why not Debezium's {@code debezium-storage-jdbc}: it does not resolve at 3.6.1.Final in this
 * project's Maven repository, and a file store would keep the relay's position outside the database
 * (lost with the host, not covered by the database's backups). This store has the same
 * configuration names as Debezium's JDBC store ({@code offset.storage.jdbc.connection.url}, {@code
 * .user}, {@code .password}, {@code offset.storage.jdbc.table.name}), so swapping to it later is a
 * one-line change.
 *
 * <p>How it works: the engine's offset writer calls {@code set} on one executor thread; {@link
 * MemoryOffsetBackingStore} updates its map and calls {@link #save()}, which upserts every entry in
 * one transaction. A save that fails throws, the engine cancels that flush and keeps the previous
 * offsets: the records after them are delivered again after a restart (at-least-once). The table is
 * {@code (offset_key text primary key, offset_val text, updated_at timestamptz)}, created if
 * missing.
 */
public final class PostgresOffsetBackingStore extends MemoryOffsetBackingStore {
  /** JDBC URL of the database holding the table. */
  public static final String URL = "offset.storage.jdbc.connection.url";

  /** User; may be absent when the URL carries it. */
  public static final String USER = "offset.storage.jdbc.connection.user";

  /** Password; may be absent. */
  public static final String PASSWORD = "offset.storage.jdbc.connection.password";

  /** The table as {@code schema.table}, both matching {@code [a-z_][a-z0-9_]{0,62}}. */
  public static final String TABLE = "offset.storage.jdbc.table.name";

  private static final Logger log = LoggerFactory.getLogger(PostgresOffsetBackingStore.class);
  private static final Pattern QUALIFIED =
      Pattern.compile("[a-z_][a-z0-9_]{0,62}\\.[a-z_][a-z0-9_]{0,62}");

  private String url;
  private String user;
  private String password;
  private String table;

  /** Instantiated by the engine. */
  public PostgresOffsetBackingStore() {}

  @Override
  public void configure(WorkerConfig config) {
    super.configure(config);
    Map<String, String> c = config.originalsStrings();
    url = c.get(URL);
    user = c.get(USER);
    password = c.get(PASSWORD);
    String name = c.get(TABLE);
    if (url == null || url.isBlank()) {
      throw new ConnectException(URL + " is missing");
    }
    if (name == null || !QUALIFIED.matcher(name).matches()) {
      throw new ConnectException(TABLE + " must be schema.table in lower case, got " + name);
    }
    String[] parts = name.split("\\.");
    table = '"' + parts[0] + "\".\"" + parts[1] + '"';
  }

  @Override
  public synchronized void start() {
    super.start();
    try (Connection c = connect();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS "
              + table
              + " (offset_key text PRIMARY KEY, offset_val text,"
              + " updated_at timestamptz NOT NULL DEFAULT clock_timestamp())");
      Map<ByteBuffer, ByteBuffer> loaded = new HashMap<>();
      try (ResultSet rs = s.executeQuery("SELECT offset_key, offset_val FROM " + table)) {
        while (rs.next()) {
          loaded.put(bytes(rs.getString(1)), bytes(rs.getString(2)));
        }
      }
      data.putAll(loaded);
      log.debug("loaded {} offsets from {}", loaded.size(), table);
    } catch (SQLException ex) {
      throw new ConnectException("reading CDC offsets from " + table + ": " + ex.getMessage(), ex);
    }
  }

  @Override
  protected void save() {
    try (Connection c = connect()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps =
          c.prepareStatement(
              "INSERT INTO "
                  + table
                  + " (offset_key, offset_val) VALUES (?, ?) ON CONFLICT (offset_key)"
                  + " DO UPDATE SET offset_val = excluded.offset_val,"
                  + " updated_at = clock_timestamp()")) {
        for (Map.Entry<ByteBuffer, ByteBuffer> e : data.entrySet()) {
          ps.setString(1, text(e.getKey()));
          ps.setString(2, text(e.getValue()));
          ps.addBatch();
        }
        ps.executeBatch();
      }
      c.commit();
    } catch (SQLException ex) {
      throw new ConnectException("saving CDC offsets to " + table + ": " + ex.getMessage(), ex);
    }
  }

  @Override
  public Set<Map<String, Object>> connectorPartitions(String connectorName) {
    // Only Kafka Connect's REST offsets API asks; the embedded engine does not.
    return Set.of();
  }

  private Connection connect() throws SQLException {
    if (user == null) {
      return DriverManager.getConnection(url);
    }
    return DriverManager.getConnection(url, user, password);
  }

  private static ByteBuffer bytes(String s) {
    return s == null ? null : ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
  }

  private static String text(ByteBuffer b) {
    return b == null ? null : StandardCharsets.UTF_8.decode(b.duplicate()).toString();
  }
}
