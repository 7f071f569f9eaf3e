package dev.invalidator.cdc;

import dev.invalidator.cdc.internal.PostgresOffsetBackingStore;
import dev.invalidator.core.Backoff;
import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.InvalidatorException;
import dev.invalidator.core.MessagingSpans;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.RelayListener;
import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.opentelemetry.api.trace.Span;
import java.io.IOException;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.apache.kafka.connect.source.SourceRecord;
import org.postgresql.Driver;
import org.postgresql.PGProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays committed outbox rows to an {@link EventPublisher} by change data capture: Debezium's
 * embedded engine reads the outbox table's inserts from PostgreSQL logical replication ({@code
 * pgoutput}), in commit order, and this relay publishes them in the engine's batches.
 *
 * <p>Design notes. The relay uses a publication limited to the outbox table and to inserts ({@code
 * WITH (publish = 'insert')}, created at {@link #start()} if missing), so the WAL sender decodes
 * nothing else, and the relay's own marks (updates) never come back to it. Each batch is mapped row
 * by row with {@link dev.invalidator.outbox.OutboxRow#toEvent}, exactly as the polling relay maps
 * its claim; valid events are published in commit order through the {@link EventPublisher}; then,
 * in one transaction, the published rows get {@code relayed_at} (so {@code
 * invalidator_outbox_pending}, retention cleanup and replay work as with the polling relay) and
 * rows that cannot become a valid event get {@code relay_error} and {@code relayed_at}: the polling
 * relay's quarantine. Only after that are the records marked processed, so the engine commits their
 * offsets (and confirms their LSN to the replication slot) only after the publisher returned. A
 * crash before that delivers them again: at-least-once, duplicates harmless by G4. A failing
 * publish or mark is retried in place with backoff, never skipped: skipping would let a later
 * offset commit pass over the batch.
 *
 * <p>Offsets live in the same PostgreSQL ({@code <table>_cdc_offsets}, see {@link
 * PostgresOffsetBackingStore}). On the first start, without offsets, the connector creates the slot
 * and takes a snapshot consistent with it; the snapshot is limited to rows with {@code relayed_at
 * IS NULL}, so switching from the polling relay to this one relays exactly the backlog the polling
 * relay left, and a backlog of committed rows can be drained for a benchmark (see {@link
 * CdcBacklogDrain}).
 *
 * <p>Threads: {@link #start()} starts one supervisor thread that runs the engine; when the engine
 * stops on an error after a successful start, the supervisor logs it, tells the listener, backs off
 * and starts it again. Batches are handled on the engine's threads, one at a time. Configuration is
 * fixed at {@link Builder#build()}.
 */
public final class CdcRelay implements AutoCloseable {
  /** Default time between offset commits (each also confirms the slot's LSN). */
  public static final Duration DEFAULT_OFFSET_FLUSH_INTERVAL = Duration.ofSeconds(5);

  /** Default longest wait of Debezium's poll for new records. */
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofMillis(5);

  /** Default time between a standby relay's attempts to take the slot's advisory lock. */
  public static final Duration DEFAULT_STANDBY_POLL_INTERVAL = Duration.ofSeconds(2);

  /** Default longest wait of {@link #start()} for the engine to start polling. */
  public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(60);

  /**
   * Default interval of Debezium's heartbeats ({@code heartbeat.interval.ms}): each runs {@link
   * #HEARTBEAT_ACTION_QUERY}, whose WAL message moves the stored offset and the slot's confirmed
   * LSN on while the outbox is quiet, and counts as activity for {@link #lastActivity()}.
   */
  public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(10);

  /**
   * Debezium's {@code heartbeat.action.query} of the relay: a non-transactional logical decoding
   * message, which {@code pgoutput} sends to the slot whatever the publication covers (PostgreSQL
   * 14+), so no heartbeat table is needed.
   */
  public static final String HEARTBEAT_ACTION_QUERY =
      "SELECT pg_logical_emit_message(false, 'invalidator-cdc-heartbeat', '')";

  /** What the relay is doing, for health checks. */
  public enum State {
    /** Built, not started. */
    NEW,
    /** Starting the engine (slot creation and the first start's snapshot included). */
    STARTING,
    /** The engine polls the replication stream. */
    STREAMING,
    /**
     * Another relay of the same slot holds its advisory lock; this one takes over when it is
     * released (that relay stopped, or its connection died).
     */
    STANDBY,
    /** The engine stopped on an error; it is started again after a backoff. */
    RESTARTING,
    /** Stopped for good on a problem a restart cannot fix; see {@link #failure()}. */
    FAILED,
    /** Closed. */
    STOPPED
  }

  private static final Logger log = LoggerFactory.getLogger(CdcRelay.class);
  private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
  private static final Pattern OFFSET_LSN =
      Pattern.compile("\"(?:lsn|lsn_commit|lsn_proc)\"\\s*:\\s*(\\d+)");

  private final String jdbcUrl;
  private final Properties credentials;
  private final OutboxTable table;
  private final EventPublisher publisher;
  private final String slotName;
  private final String publicationName;
  private final String offsetsTable;
  private final boolean snapshotUnrelayed;
  private final boolean markRelayed;
  private final Duration offsetFlushInterval;
  private final Duration pollInterval;
  private final Duration startTimeout;
  private final Duration heartbeatInterval;
  private final Duration standbyPollInterval;
  private final Map<String, String> debeziumProperties;
  private final Clock clock;
  private final RelayListener listener;
  private final Backoff backoff;
  private final MessagingSpans spans;

  private final String markSql;
  private final String quarantineSql;

  private final AtomicLong published = new AtomicLong();
  private final AtomicLong quarantined = new AtomicLong();
  private final AtomicLong errors = new AtomicLong();
  private final CountDownLatch stopSignal = new CountDownLatch(1);
  private final CountDownLatch streaming = new CountDownLatch(1);

  private volatile boolean running;
  private volatile boolean started;
  private volatile State state = State.NEW;
  private volatile Instant lastActivity;
  private volatile String failure;
  private volatile boolean startWaiting;
  // Holds the slot's advisory lock; touched only by the supervisor thread.
  private Connection lockConnection;
  private volatile Throwable lastEngineError;
  private volatile DebeziumEngine<RecordChangeEvent<SourceRecord>> engine;
  private volatile EngineRun currentRun;
  private Thread supervisor;

  // Touched only by the engine's batch thread.
  private Connection markConnection;

  private CdcRelay(Builder b) {
    this.jdbcUrl = b.jdbcUrl;
    this.credentials = new Properties();
    if (b.user != null) {
      credentials.setProperty("user", b.user);
    }
    if (b.password != null) {
      credentials.setProperty("password", b.password);
    }
    this.table = b.table;
    this.publisher = b.publisher;
    this.slotName = b.slotName != null ? b.slotName : defaultSlotName(b.table);
    this.publicationName =
        b.publicationName != null ? b.publicationName : defaultPublicationName(b.table);
    this.offsetsTable = b.table.table() + "_cdc_offsets";
    this.snapshotUnrelayed = b.snapshotUnrelayed;
    this.markRelayed = b.markRelayed;
    this.offsetFlushInterval = b.offsetFlushInterval;
    this.pollInterval = b.pollInterval;
    this.startTimeout = b.startTimeout;
    this.heartbeatInterval = b.heartbeatInterval;
    this.standbyPollInterval = b.standbyPollInterval;
    this.debeziumProperties = Map.copyOf(b.debeziumProperties);
    this.clock = b.clock;
    this.listener = b.listener;
    this.backoff = b.backoff;
    this.spans = b.spans;
    String t = b.table.qualified();
    this.markSql =
        "UPDATE "
            + t
            + " SET relayed_at = clock_timestamp() WHERE id = ANY(?) AND relayed_at IS NULL";
    this.quarantineSql =
        "UPDATE "
            + t
            + " SET relay_error = ?, relayed_at = coalesce(relayed_at, clock_timestamp())"
            + " WHERE id = ?";
  }

  /**
   * A builder for a relay of {@code table} to {@code publisher}. {@code jdbcUrl} names the outbox's
   * database ({@code jdbc:postgresql://host:port/db?user=...}); the relay opens its own
   * connections: Debezium's replication connection, one for offsets and one for marks.
   */
  public static Builder builder(String jdbcUrl, OutboxTable table, EventPublisher publisher) {
    return new Builder(jdbcUrl, table, publisher);
  }

  /** The default replication slot name of {@code table}: {@code <table>_cdc_slot}. */
  public static String defaultSlotName(OutboxTable table) {
    return table.table() + "_cdc_slot";
  }

  /** The default publication name of {@code table}: {@code <table>_cdc_pub}. */
  public static String defaultPublicationName(OutboxTable table) {
    return table.table() + "_cdc_pub";
  }

  /** The table this relay reads. */
  public OutboxTable table() {
    return table;
  }

  /** The replication slot this relay streams from. */
  public String slotName() {
    return slotName;
  }

  /** The publication this relay subscribes to. */
  public String publicationName() {
    return publicationName;
  }

  /** Events published since start (duplicates after a redelivery included). */
  public long published() {
    return published.get();
  }

  /** Rows quarantined since start. */
  public long quarantined() {
    return quarantined.get();
  }

  /** Failed publish or mark attempts and engine failures since start; each was retried. */
  public long errors() {
    return errors.get();
  }

  /** What the relay is doing now. */
  public State state() {
    return state;
  }

  /**
   * When the engine last handed the relay a batch (outbox rows or a heartbeat) or began streaming;
   * null before that. With heartbeats on (the default), a streaming relay's age stays below about
   * one heartbeat interval even on a quiet outbox: an older one means the engine is stuck.
   */
  public Instant lastActivity() {
    return lastActivity;
  }

  /** Why the relay stopped for good ({@link State#FAILED}), or null. */
  public String failure() {
    return failure;
  }

  /**
   * The state of this relay's replication slot, read from the server now; for health checks (a slot
   * that is not {@code active} while the relay should run, or whose retained WAL keeps growing) and
   * metrics. May be called whether or not the relay runs.
   *
   * @throws InvalidatorException (retryable) when the server cannot be asked
   */
  public SlotHealth slotHealth() {
    try (Connection c = connect();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT active,"
                    + " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint,"
                    + " coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn),"
                    + " 0)::bigint, wal_status, active_pid, safe_wal_size"
                    + " FROM pg_replication_slots WHERE slot_name = ?")) {
      ps.setString(1, slotName);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return new SlotHealth(slotName, false, false, 0, 0, null, null, null);
        }
        int pid = rs.getInt(5);
        Integer activePid = rs.wasNull() ? null : pid;
        long safe = rs.getLong(6);
        Long safeWalSize = rs.wasNull() ? null : safe;
        return new SlotHealth(
            slotName,
            true,
            rs.getBoolean(1),
            rs.getLong(2),
            rs.getLong(3),
            rs.getString(4),
            activePid,
            safeWalSize);
      }
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "reading replication slot " + slotName + ": " + ex.getMessage(), true, ex);
    }
  }

  /**
   * Checks the prerequisites, creates the publication if missing and starts the engine; returns
   * once the engine polls. The slot exists by then, so every commit from then on will be relayed;
   * the first start's snapshot and the replication stream may still be starting.
   *
   * @throws InvalidatorException (permanent) when {@code wal_level} is not {@code logical}, when
   *     the publication exists but does not cover the table, or when the engine did not start
   *     within the start timeout (the relay is then closed)
   * @throws IllegalStateException when called twice
   */
  public synchronized void start() {
    if (supervisor != null) {
      throw new IllegalStateException("CDC relay for " + table + " was already started");
    }
    prepareDatabase();
    running = true;
    startWaiting = true;
    state = State.STARTING;
    supervisor = new Thread(this::supervise, "cdc-relay-" + table.table());
    supervisor.setDaemon(true);
    supervisor.start();
    boolean ok;
    try {
      ok = streaming.await(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      close();
      throw new InvalidatorException("interrupted while starting CDC relay for " + table, false);
    } finally {
      startWaiting = false;
    }
    if (state == State.STANDBY) {
      log.info(
          "CDC relay for {} is standing by: another relay streams from slot {}; it takes over"
              + " when that one stops",
          table,
          slotName);
      return;
    }
    Throwable failure = lastEngineError;
    String gap = this.failure;
    if (gap != null) {
      close();
      throw new InvalidatorException(gap, false);
    }
    if (!ok || !started) {
      close();
      String why = failure == null ? "no answer" : failure.toString();
      throw new InvalidatorException(
          "CDC relay for "
              + table
              + " did not start within "
              + startTimeout
              + " (slot "
              + slotName
              + ", publication "
              + publicationName
              + "): "
              + why,
          false,
          failure);
    }
    log.info(
        "CDC relay for {} started (slot {}, publication {}, offsets {}.{})",
        table,
        slotName,
        publicationName,
        table.schema(),
        offsetsTable);
  }

  /**
   * Stops the engine and waits for it; the batch in flight is either finished or left unmarked
   * (delivered again at the next start). Offsets of processed batches are committed on the way out.
   * Idempotent.
   */
  @Override
  public void close() {
    Thread t;
    synchronized (this) {
      running = false;
      stopSignal.countDown();
      t = supervisor;
      if (state != State.FAILED) {
        state = State.STOPPED;
      }
    }
    closeEngine();
    if (t != null && t != Thread.currentThread()) {
      try {
        t.join(TimeUnit.MINUTES.toMillis(2));
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
    }
    closeMarkConnection();
  }

  /**
   * Removes what this relay keeps in the database: its replication slot (which otherwise makes
   * PostgreSQL keep WAL forever), its publication and its offsets. For a relay taken out of
   * service, tests and benchmarks; call after {@link #close()}. The next start of a relay with the
   * same names begins with a new snapshot of the unrelayed rows.
   */
  public void decommission() {
    try (Connection c = connect()) {
      dropSlot(c, slotName, Duration.ofSeconds(30));
      try (Statement s = c.createStatement()) {
        s.execute("DROP PUBLICATION IF EXISTS " + quote(publicationName));
      }
      if (tableExists(c, table.schema(), offsetsTable)) {
        try (PreparedStatement ps =
            c.prepareStatement(
                "DELETE FROM "
                    + quote(table.schema())
                    + "."
                    + quote(offsetsTable)
                    + " WHERE offset_key LIKE ?")) {
          ps.setString(1, "[\"" + slotName + "\",%");
          ps.executeUpdate();
        }
      }
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "decommissioning CDC relay " + slotName + ": " + ex.getMessage(), true, ex);
    }
  }

  /**
   * The highest WAL position in this relay's stored offsets ({@code 16/B374D848}), or null when
   * none are stored (before the first start, after {@link #decommission()} or {@link #reset}).
   *
   * @throws InvalidatorException (retryable) when the server cannot be asked
   */
  public String storedPosition() {
    try (Connection c = connect()) {
      Long lsn = storedLsn(c);
      return lsn == null ? null : lsnText(lsn);
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "reading CDC offsets of " + table + ": " + ex.getMessage(), true, ex);
    }
  }

  /**
   * Why the relay could not resume from its stored offsets now (slot gone, {@code wal_status =
   * 'lost'}, slot re-created or advanced past them), or null when it could: the check every engine
   * start runs.
   *
   * @throws InvalidatorException (retryable) when the server cannot be asked
   */
  public String slotProblem() {
    try {
      return slotGap();
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "checking replication slot " + slotName + ": " + ex.getMessage(), true, ex);
    }
  }

  /**
   * The repair after the relay stopped on a lost or re-created slot: holding the slot's advisory
   * lock (so no relay starts meanwhile), drops the slot if it exists and this relay's stored
   * offsets, then runs {@code republish} (the daemon's: the polling relay's drain of the rows still
   * unrelayed). The next start of a relay creates the slot with a snapshot of the rows still
   * unrelayed then, so nothing committed in between is missed; duplicates are harmless. Call on a
   * relay that was not started.
   *
   * @throws InvalidatorException (permanent) when a relay of the slot runs (holds the lock, or
   *     streams from the slot)
   */
  public void reset(Runnable republish) {
    try (Connection c = connect()) {
      try (PreparedStatement ps =
          c.prepareStatement("SELECT pg_try_advisory_lock(hashtextextended(?, 0))")) {
        ps.setString(1, lockName());
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (!rs.getBoolean(1)) {
            throw new InvalidatorException(
                "a CDC relay of slot "
                    + slotName
                    + " is running (it holds the slot's lock): stop it first",
                false);
          }
        }
      }
      SlotHealth h = slotHealth();
      if (h.active()) {
        throw new InvalidatorException(
            "replication slot "
                + slotName
                + " is in use by process "
                + h.activePid()
                + ": stop its relay first",
            false);
      }
      dropSlot(c, slotName, Duration.ofSeconds(30));
      if (tableExists(c, table.schema(), offsetsTable)) {
        try (PreparedStatement ps =
            c.prepareStatement(
                "DELETE FROM "
                    + quote(table.schema())
                    + "."
                    + quote(offsetsTable)
                    + " WHERE offset_key LIKE ?")) {
          ps.setString(1, "[\"" + slotName + "\",%");
          ps.executeUpdate();
        }
      }
      republish.run();
      log.warn(
          "CDC relay for {}: slot {} and its offsets were reset; the next start creates the slot",
          table,
          slotName);
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "resetting CDC relay " + slotName + ": " + ex.getMessage(), true, ex);
    }
  }

  /**
   * Drops replication slot {@code slotName} if it exists, waiting up to {@code wait} for a
   * walsender that still holds it to exit. Returns whether a slot was dropped.
   */
  static boolean dropSlot(Connection c, String slotName, Duration wait) throws SQLException {
    long deadline = System.nanoTime() + wait.toNanos();
    while (true) {
      try (PreparedStatement ps =
          c.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
        ps.setString(1, slotName);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            return false;
          }
          if (!rs.getBoolean(1)) {
            try (PreparedStatement drop =
                c.prepareStatement("SELECT pg_drop_replication_slot(?)")) {
              drop.setString(1, slotName);
              drop.execute();
              return true;
            } catch (SQLException ex) {
              // 55006: it became active again in between; loop.
              if (!"55006".equals(ex.getSQLState()) || System.nanoTime() > deadline) {
                throw ex;
              }
            }
          } else if (System.nanoTime() > deadline) {
            throw new SQLException("replication slot " + slotName + " is still in use", "55006");
          }
        }
      }
      try {
        Thread.sleep(100); // waiting for another process (a walsender) to exit, not for our own
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new SQLException("interrupted while dropping slot " + slotName, ex);
      }
    }
  }

  // --- start-up -------------------------------------------------------------------------------

  private void prepareDatabase() {
    try (Connection c = connect();
        Statement s = c.createStatement()) {
      String walLevel;
      try (ResultSet rs = s.executeQuery("SHOW wal_level")) {
        rs.next();
        walLevel = rs.getString(1);
      }
      if (!"logical".equals(walLevel)) {
        throw new InvalidatorException(
            "CDC relay for "
                + table
                + " needs PostgreSQL wal_level = logical, but the server runs with wal_level = "
                + walLevel
                + ". Set it with ALTER SYSTEM SET wal_level = logical (or wal_level = logical in"
                + " postgresql.conf) and restart PostgreSQL; max_replication_slots and"
                + " max_wal_senders must each leave one free for this relay. Or keep the polling"
                + " relay (relay.mode: polling).",
            false);
      }
      ensurePublication(c);
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "preparing CDC relay for " + table + ": " + ex.getMessage(), true, ex);
    }
  }

  private void ensurePublication(Connection c) throws SQLException {
    boolean exists;
    try (PreparedStatement ps =
        c.prepareStatement("SELECT pubinsert FROM pg_publication WHERE pubname = ?")) {
      ps.setString(1, publicationName);
      try (ResultSet rs = ps.executeQuery()) {
        exists = rs.next();
        if (exists && !rs.getBoolean(1)) {
          throw new InvalidatorException(
              "publication " + publicationName + " exists but does not publish inserts", false);
        }
      }
    }
    if (!exists) {
      try (Statement s = c.createStatement()) {
        s.execute(
            "CREATE PUBLICATION "
                + quote(publicationName)
                + " FOR TABLE "
                + table.qualified()
                + " WITH (publish = 'insert')");
        log.info("created publication {} for inserts into {}", publicationName, table);
      } catch (SQLException ex) {
        // 42710: another relay created it at the same time.
        if (!"42710".equals(ex.getSQLState())) {
          throw ex;
        }
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT 1 FROM pg_publication_tables WHERE pubname = ? AND schemaname = ?"
                + " AND tablename = ?")) {
      ps.setString(1, publicationName);
      ps.setString(2, table.schema());
      ps.setString(3, table.table());
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new InvalidatorException(
              "publication " + publicationName + " exists but does not include " + table, false);
        }
      }
    }
  }

  /** The engine configuration: Debezium's own names, overridable by {@code debeziumProperty}. */
  Properties engineProperties() {
    Properties urlProps = Driver.parseURL(jdbcUrl, null);
    if (urlProps == null) {
      throw new IllegalArgumentException("relay.jdbcUrl is not a PostgreSQL JDBC URL: " + jdbcUrl);
    }
    // pgjdbc's own default when neither the URL nor the builder names a user.
    String user =
        credentials.getProperty(
            "user", urlProps.getProperty("user", System.getProperty("user.name")));
    String password = credentials.getProperty("password", urlProps.getProperty("password"));
    Map<String, String> p = new LinkedHashMap<>();
    p.put("name", slotName);
    p.put("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    p.put("topic.prefix", slotName);
    p.put("database.hostname", PGProperty.PG_HOST.getOrDefault(urlProps).split(",")[0]);
    p.put("database.port", PGProperty.PG_PORT.getOrDefault(urlProps).split(",")[0]);
    p.put("database.dbname", PGProperty.PG_DBNAME.getOrDefault(urlProps));
    p.put("database.user", user);
    if (password != null) {
      p.put("database.password", password);
    }
    p.put("plugin.name", "pgoutput");
    p.put("slot.name", slotName);
    p.put("publication.name", publicationName);
    p.put("publication.autocreate.mode", "disabled");
    p.put("table.include.list", table.schema() + "\\." + table.table());
    p.put("skipped.operations", "u,d,t");
    p.put("tombstones.on.delete", "false");
    p.put("poll.interval.ms", Long.toString(pollInterval.toMillis()));
    p.put("heartbeat.interval.ms", Long.toString(heartbeatInterval.toMillis()));
    p.put("heartbeat.action.query", HEARTBEAT_ACTION_QUERY);
    String snapshotTable = table.schema() + "." + table.table();
    if (snapshotUnrelayed) {
      p.put("snapshot.mode", "initial");
      p.put("snapshot.select.statement.overrides", snapshotTable);
      p.put(
          "snapshot.select.statement.overrides." + snapshotTable,
          "SELECT * FROM " + table.qualified() + " WHERE relayed_at IS NULL ORDER BY id");
    } else {
      p.put("snapshot.mode", "no_data");
    }
    p.put("offset.storage", PostgresOffsetBackingStore.class.getName());
    p.put(PostgresOffsetBackingStore.URL, jdbcUrl);
    if (credentials.containsKey("user")) {
      p.put(PostgresOffsetBackingStore.USER, user);
    }
    if (credentials.containsKey("password")) {
      p.put(PostgresOffsetBackingStore.PASSWORD, password);
    }
    p.put(PostgresOffsetBackingStore.TABLE, table.schema() + "." + offsetsTable);
    p.put("offset.flush.interval.ms", Long.toString(offsetFlushInterval.toMillis()));
    // Neither the engine nor the connector restarts the task by itself: every restart goes
    // through supervise(), which checks the slot first (a restarted task would re-create a
    // dropped slot and resume past the gap).
    p.put("errors.max.retries", "0");
    p.putAll(debeziumProperties);
    Properties props = new Properties();
    props.putAll(p);
    return props;
  }

  // --- the engine -------------------------------------------------------------------------------

  private void supervise() {
    try {
      superviseHoldingTheLock();
    } finally {
      closeLockConnection();
    }
  }

  private void superviseHoldingTheLock() {
    int failures = 0;
    while (running) {
      lastEngineError = null;
      if (!holdLock()) {
        break;
      }
      String gap;
      try {
        gap = slotGap();
      } catch (SQLException ex) {
        gap = null;
        lastEngineError = ex;
      }
      if (gap != null) {
        fail(gap);
        return;
      }
      try {
        if (lastEngineError != null) {
          throw new InvalidatorException(
              "checking replication slot " + slotName + ": " + lastEngineError.getMessage(),
              true,
              lastEngineError);
        }
        EngineRun run = new EngineRun();
        currentRun = run;
        DebeziumEngine<RecordChangeEvent<SourceRecord>> e =
            DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                .using(engineProperties())
                .using(
                    new DebeziumEngine.ConnectorCallback() {
                      @Override
                      public void pollingStarted() {
                        // The check above ran before the engine attached to the slot: a slot
                        // dropped and re-created in between (an engine restarting just then)
                        // would stream from the new slot's position, past the gap. The connector
                        // attaches its stream only after this callback, so the slot is checked
                        // again once it is active (held by this engine: the advisory lock keeps
                        // other relays off it), and before the first batch is published.
                        started = true;
                        lastActivity = clock.instant();
                        if (running) {
                          state = State.STREAMING;
                        }
                        Thread checker =
                            new Thread(() -> verifyAttachedSlot(run), "cdc-slot-check");
                        checker.setDaemon(true);
                        checker.start();
                        streaming.countDown();
                      }
                    })
                .using(
                    (success, message, error) -> {
                      if (!success) {
                        lastEngineError =
                            error != null ? error : new IllegalStateException(message);
                      }
                    })
                .notifying(new BatchHandler())
                .build();
        engine = e;
        if (!running) {
          closeEngine();
          break;
        }
        e.run();
      } catch (RuntimeException ex) {
        lastEngineError = ex;
      }
      if (!running) {
        break;
      }
      Throwable error =
          lastEngineError != null
              ? lastEngineError
              : new IllegalStateException("Debezium engine stopped without an error");
      if (!started && startWaiting) {
        // A first start that fails is a configuration or prerequisite problem: start() reports it.
        streaming.countDown();
        return;
      }
      errors.incrementAndGet();
      state = State.RESTARTING;
      notifyListener(l -> l.loopError(error));
      Duration delay = backoff.delay(failures++);
      log.warn(
          "CDC engine for {} stopped ({} in a row), restarting in {} ms: {}",
          table,
          failures,
          delay.toMillis(),
          error.toString(),
          error);
      try {
        if (stopSignal.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
          break;
        }
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    log.info("CDC relay for {} stopped", table);
  }

  /**
   * Takes or keeps the slot's advisory lock, so one relay per slot streams and the others stand by
   * (PostgreSQL releases the lock when its session ends, so a relay that dies hands over too).
   * Returns false when the relay was stopped while waiting. After taking it, waits for the previous
   * holder's walsender to let go of the slot.
   */
  private boolean holdLock() {
    while (running) {
      try {
        if (lockConnection != null) {
          if (lockConnection.isValid(5)) {
            return true;
          }
          closeLockConnection();
        }
        Connection c = connect();
        boolean got;
        try (PreparedStatement ps =
            c.prepareStatement("SELECT pg_try_advisory_lock(hashtextextended(?, 0))")) {
          ps.setString(1, lockName());
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            got = rs.getBoolean(1);
          }
        }
        if (got) {
          lockConnection = c;
          if (state == State.STANDBY) {
            state = State.STARTING;
            log.info("CDC relay for {} took over slot {}", table, slotName);
          }
          awaitSlotReleased(c);
          return running;
        }
        c.close();
        if (state != State.STANDBY) {
          state = State.STANDBY;
          log.info(
              "CDC relay for {} stands by: another relay holds the lock of slot {}",
              table,
              slotName);
          streaming.countDown();
        }
      } catch (SQLException ex) {
        closeLockConnection();
        log.warn(
            "CDC relay for {}: taking the lock of slot {} failed: {}",
            table,
            slotName,
            ex.toString());
      }
      try {
        if (stopSignal.await(standbyPollInterval.toMillis(), TimeUnit.MILLISECONDS)) {
          return false;
        }
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return false;
  }

  /** The advisory lock's name (hashed to its key): one per slot, as the slot is what is shared. */
  String lockName() {
    return "invalidator-cdc:" + slotName;
  }

  private void awaitSlotReleased(Connection c) throws SQLException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (running && System.nanoTime() < deadline) {
      try (PreparedStatement ps =
          c.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
        ps.setString(1, slotName);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next() || !rs.getBoolean(1)) {
            return;
          }
        }
      }
      try {
        if (stopSignal.await(100, TimeUnit.MILLISECONDS)) {
          return;
        }
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private void closeLockConnection() {
    Connection c = lockConnection;
    lockConnection = null;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ex) {
        log.debug("closing the lock connection of {} failed: {}", table, ex.toString());
      }
    }
  }

  /**
   * Why the stored offsets cannot be resumed from the slot, or null when they can (or when there
   * are no offsets yet: a first start). Run before every start of the engine, because the connector
   * itself would create a missing slot and stream from its creation point on, silently skipping
   * every commit between the stored offset and then; and by {@code invalidator cdc status}, while a
   * relay of the slot may be running.
   *
   * <p>Read order: the slot first, then the offsets. A running relay (this one's previous engine,
   * another process's that still streams, or the one {@code cdc status} looks at) stores its
   * offsets first and confirms their LSN to the slot after, so the slot's {@code
   * confirmed_flush_lsn} never passes the stored position. Read in that order, a position read
   * later is never older than a confirmation read earlier. Read the other way round, an offset
   * commit and its confirmation landing between the two reads make the slot look "advanced by
   * someone else": a false gap that would stop a healthy relay for good (tested, with the old order
   * as the negative control). One SQL statement would not do: its snapshot of the offsets table is
   * taken before {@code pg_replication_slots}, which is not versioned, is read.
   */
  String slotGap() throws SQLException {
    return slotGap(false, () -> {});
  }

  /**
   * {@link #slotGap()}; {@code betweenReads} runs between the two reads (tests move the offsets and
   * the slot on there, as a running relay does), and {@code offsetsFirst} reads them in the wrong
   * order (the tests' negative control).
   */
  String slotGap(boolean offsetsFirst, Runnable betweenReads) throws SQLException {
    try (Connection c = connect()) {
      Long stored;
      SlotPosition slot;
      if (offsetsFirst) {
        stored = storedLsn(c);
        betweenReads.run();
        slot = slotPosition(c);
      } else {
        slot = slotPosition(c);
        betweenReads.run();
        stored = storedLsn(c);
      }
      if (stored == null) {
        return null;
      }
      String where =
          "CDC relay for "
              + table
              + ": its offsets ("
              + table.schema()
              + "."
              + offsetsTable
              + ") hold WAL position "
              + lsnText(stored)
              + " but replication slot "
              + slotName;
      String remedy =
          ". Commits after that position cannot be read from the WAL any more, so the relay stops"
              + " instead of resuming past a gap. Run `invalidator cdc reset` (re-creates the slot"
              + " and republishes the rows still unrelayed), or decommission() and start again.";
      if (slot == null) {
        return where + " does not exist (dropped, or lost in a failover)" + remedy;
      }
      if ("lost".equals(slot.walStatus())) {
        return where
            + " has wal_status = 'lost': PostgreSQL removed WAL it still needed"
            + " (max_slot_wal_keep_size)"
            + remedy;
      }
      Long confirmed = slot.confirmedLsn();
      Long restart = slot.restartLsn();
      if ((confirmed != null && confirmed > stored) || (restart != null && restart > stored)) {
        return where
            + " starts later, at "
            + lsnText(confirmed != null ? confirmed : restart)
            + ": it was re-created or advanced by someone else"
            + remedy;
      }
      return null;
    }
  }

  /** What {@link #slotGap} needs of the slot: its {@code wal_status} and positions (null: none). */
  private record SlotPosition(String walStatus, Long confirmedLsn, Long restartLsn) {}

  /** The slot's {@code wal_status} and positions now, or null when it does not exist. */
  private SlotPosition slotPosition(Connection c) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT wal_status, pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint,"
                + " pg_wal_lsn_diff(restart_lsn, '0/0')::bigint"
                + " FROM pg_replication_slots WHERE slot_name = ?")) {
      ps.setString(1, slotName);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        String walStatus = rs.getString(1);
        long confirmed = rs.getLong(2);
        Long confirmedLsn = rs.wasNull() ? null : confirmed;
        long restart = rs.getLong(3);
        Long restartLsn = rs.wasNull() ? null : restart;
        return new SlotPosition(walStatus, confirmedLsn, restartLsn);
      }
    }
  }

  /** The highest LSN of the stored offsets of this relay's slot, or null when there are none. */
  private Long storedLsn(Connection c) throws SQLException {
    if (!tableExists(c, table.schema(), offsetsTable)) {
      return null;
    }
    Long max = null;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT offset_val FROM "
                + quote(table.schema())
                + "."
                + quote(offsetsTable)
                + " WHERE offset_key LIKE ?")) {
      ps.setString(1, "[\"" + slotName + "\",%");
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String value = rs.getString(1);
          if (value == null) {
            continue;
          }
          java.util.regex.Matcher m = OFFSET_LSN.matcher(value);
          while (m.find()) {
            long lsn = Long.parseLong(m.group(1));
            max = max == null ? lsn : Math.max(max, lsn);
          }
        }
      }
    }
    return max;
  }

  /** An LSN in PostgreSQL's notation ({@code 16/B374D848}). */
  static String lsnText(long lsn) {
    return Long.toHexString(lsn >>> 32).toUpperCase(java.util.Locale.ROOT)
        + "/"
        + Long.toHexString(lsn & 0xFFFFFFFFL).toUpperCase(java.util.Locale.ROOT);
  }

  /** One engine start: whether its slot was checked once the engine held it. */
  private static final class EngineRun {
    final AtomicBoolean slotChecked = new AtomicBoolean();
  }

  /**
   * Waits (up to a minute) until the slot is active, that is, this engine's stream holds it, then
   * checks it for a gap; fails the relay and closes the engine when there is one. A batch arriving
   * first runs the same check itself ({@link #checkSlot}).
   */
  private void verifyAttachedSlot(EngineRun run) {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    try {
      while (running && currentRun == run && !run.slotChecked.get()) {
        if (slotActive() || System.nanoTime() > deadline) {
          checkSlot(run);
          return;
        }
        if (stopSignal.await(20, TimeUnit.MILLISECONDS)) {
          return;
        }
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    } catch (SQLException ex) {
      log.debug("checking replication slot {} after attaching: {}", slotName, ex.toString());
    }
  }

  /** Whether a walsender holds the slot now. */
  private boolean slotActive() throws SQLException {
    try (Connection c = connect();
        PreparedStatement ps =
            c.prepareStatement("SELECT active FROM pg_replication_slots WHERE slot_name = ?")) {
      ps.setString(1, slotName);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    }
  }

  /**
   * Checks the slot once per engine start, once the engine holds it; a gap fails the relay and
   * closes the engine. Returns false when the relay failed. The checker thread and the first batch
   * may both call it: they take turns on the run, and only the first checks.
   */
  private boolean checkSlot(EngineRun run) throws SQLException {
    synchronized (run) {
      if (run.slotChecked.get()) {
        return state != State.FAILED;
      }
      String late = slotGap();
      run.slotChecked.set(true);
      if (late == null) {
        return true;
      }
      fail(late);
      Thread closer = new Thread(this::closeEngine, "cdc-close");
      closer.setDaemon(true);
      closer.start();
      return false;
    }
  }

  private void fail(String why) {
    failure = why;
    state = State.FAILED;
    running = false;
    errors.incrementAndGet();
    log.error("{}", why);
    InvalidatorException ex = new InvalidatorException(why, false);
    notifyListener(l -> l.loopError(ex));
    streaming.countDown();
  }

  private void closeEngine() {
    DebeziumEngine<RecordChangeEvent<SourceRecord>> e = engine;
    if (e == null) {
      return;
    }
    try {
      e.close();
    } catch (IOException | RuntimeException ex) {
      log.debug("closing the CDC engine of {} failed: {}", table, ex.toString());
    }
  }

  /** Publishes and marks a batch; marks it processed only when both succeeded. */
  private final class BatchHandler
      implements DebeziumEngine.ChangeConsumer<RecordChangeEvent<SourceRecord>> {
    @Override
    public void handleBatch(
        List<RecordChangeEvent<SourceRecord>> records,
        DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer)
        throws InterruptedException {
      EngineRun run = currentRun;
      if (run != null && !run.slotChecked.get()) {
        // The first batch of this engine start: the slot it streams from is checked before
        // anything of it is published (the checker thread may not have run yet).
        try {
          checkSlot(run);
        } catch (SQLException ex) {
          throw new InvalidatorException(
              "checking replication slot " + slotName + ": " + ex.getMessage(), true, ex);
        }
      }
      if (state == State.FAILED) {
        // Failed (a gap found once the engine held the slot) while the engine is being closed:
        // nothing is published, marked or committed, so the stored offsets stay before the gap.
        throw new InterruptedException("CDC relay for " + table + " failed: " + failure);
      }
      List<EventPublisher.Outgoing> out = new ArrayList<>(records.size());
      List<Quarantine> bad = new ArrayList<>();
      Instant oldest = null;
      for (RecordChangeEvent<SourceRecord> r : records) {
        OutboxRecords.Decoded d = OutboxRecords.decode(r.record());
        if (d instanceof OutboxRecords.Row row) {
          try {
            InvalidationEvent event = row.row().toEvent(table);
            out.add(new EventPublisher.Outgoing(row.row().id(), event));
            if (event.createdAt() != null
                && (oldest == null || event.createdAt().isBefore(oldest))) {
              oldest = event.createdAt();
            }
          } catch (InvalidEventException ex) {
            bad.add(quarantine(row.row().id(), ex.getMessage()));
          }
        } else if (d instanceof OutboxRecords.Malformed m) {
          bad.add(quarantine(m.id(), m.reason()));
        } else if (log.isTraceEnabled()) {
          log.trace("CDC relay for {} skips a record: {}", table, ((OutboxRecords.Skip) d).why());
        }
      }
      int failures = 0;
      while (true) {
        try {
          if (!out.isEmpty()) {
            publishTraced(out);
          }
          mark(out, bad);
          break;
        } catch (RuntimeException ex) {
          errors.incrementAndGet();
          closeMarkConnection();
          notifyListener(l -> l.loopError(ex));
          Duration delay = backoff.delay(failures++);
          log.warn(
              "CDC relay for {}: publishing or marking a batch of {} failed ({} in a row),"
                  + " retrying in {} ms: {}",
              table,
              out.size() + bad.size(),
              failures,
              delay.toMillis(),
              ex.toString(),
              ex);
          if (!running || stopSignal.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
            // Not marked processed: delivered again at the next start.
            throw new InterruptedException("CDC relay for " + table + " stopped");
          }
        }
      }
      // Counted when published and marked, before the offsets move.
      if (!out.isEmpty()) {
        published.addAndGet(out.size());
        Duration age = Duration.ZERO;
        if (oldest != null) {
          age = Duration.between(oldest, clock.instant());
          age = age.isNegative() ? Duration.ZERO : age;
        }
        Duration oldestAge = age;
        int n = out.size();
        notifyListener(l -> l.published(n, oldestAge));
      }
      if (!bad.isEmpty()) {
        quarantined.addAndGet(bad.size());
        int n = bad.size();
        notifyListener(l -> l.quarantined(n));
      }
      for (RecordChangeEvent<SourceRecord> r : records) {
        committer.markProcessed(r);
      }
      committer.markBatchFinished();
      lastActivity = clock.instant();
    }
  }

  /** Publishes, with a {@code publish} span per traced event when spans are on. */
  private void publishTraced(List<EventPublisher.Outgoing> out) {
    if (!spans.enabled()) {
      publisher.publish(List.copyOf(out));
      return;
    }
    String destination = publisher.destination();
    List<Span> started = new ArrayList<>(out.size());
    for (EventPublisher.Outgoing o : out) {
      started.add(spans.startPublish(destination, o.event()));
    }
    try {
      publisher.publish(List.copyOf(out));
    } catch (RuntimeException ex) {
      started.forEach(sp -> MessagingSpans.fail(sp, ex));
      throw ex;
    } finally {
      started.forEach(Span::end);
    }
  }

  private Quarantine quarantine(long id, String reason) {
    log.warn("outbox {} row {} quarantined, it cannot become a valid event: {}", table, id, reason);
    return new Quarantine(id, reason);
  }

  /** Marks published rows relayed and quarantines bad ones, in one transaction. */
  private void mark(List<EventPublisher.Outgoing> out, List<Quarantine> bad) {
    if ((!markRelayed || out.isEmpty()) && bad.isEmpty()) {
      return;
    }
    try {
      Connection c = markConnection();
      try {
        if (markRelayed && !out.isEmpty()) {
          Long[] ids = out.stream().map(EventPublisher.Outgoing::outboxId).toArray(Long[]::new);
          try (PreparedStatement ps = c.prepareStatement(markSql)) {
            Array array = c.createArrayOf("bigint", ids);
            ps.setArray(1, array);
            ps.executeUpdate();
          }
        }
        if (!bad.isEmpty()) {
          try (PreparedStatement ps = c.prepareStatement(quarantineSql)) {
            for (Quarantine q : bad) {
              ps.setString(1, q.reason());
              ps.setLong(2, q.id());
              ps.addBatch();
            }
            ps.executeBatch();
          }
        }
        c.commit();
      } catch (SQLException | RuntimeException ex) {
        try {
          c.rollback();
        } catch (SQLException rollback) {
          ex.addSuppressed(rollback);
        }
        throw ex;
      }
    } catch (SQLException ex) {
      throw new InvalidatorException(
          "marking relayed rows of " + table + ": " + ex.getMessage(), true, ex);
    }
  }

  private Connection markConnection() throws SQLException {
    if (markConnection == null) {
      Connection c = connect();
      c.setAutoCommit(false);
      markConnection = c;
    }
    return markConnection;
  }

  private void closeMarkConnection() {
    Connection c = markConnection;
    markConnection = null;
    if (c != null) {
      try {
        c.close();
      } catch (SQLException ex) {
        log.debug("closing a connection to {} failed: {}", table, ex.toString());
      }
    }
  }

  private Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl, credentials);
  }

  private static boolean tableExists(Connection c, String schema, String name) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
      ps.setString(1, quote(schema) + "." + quote(name));
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    }
  }

  private static String quote(String identifier) {
    return '"' + identifier + '"';
  }

  private void notifyListener(Consumer<RelayListener> call) {
    try {
      call.accept(listener);
    } catch (RuntimeException ex) {
      log.warn("relay listener for {} failed: {}", table, ex.toString(), ex);
    }
  }

  @Override
  public String toString() {
    return "CdcRelay[" + table + ", slot " + slotName + "]";
  }

  private record Quarantine(long id, String reason) {}

  /**
   * Settings of a {@link CdcRelay}. Each setter stores; {@link #build()} validates everything and
   * names the setting ({@code cdc.slotName} and so on) in its message.
   */
  public static final class Builder {
    private final String jdbcUrl;
    private final OutboxTable table;
    private final EventPublisher publisher;
    private String user;
    private String password;
    private String slotName;
    private String publicationName;
    private boolean snapshotUnrelayed = true;
    private boolean markRelayed = true;
    private Duration offsetFlushInterval = DEFAULT_OFFSET_FLUSH_INTERVAL;
    private Duration pollInterval = DEFAULT_POLL_INTERVAL;
    private Duration startTimeout = DEFAULT_START_TIMEOUT;
    private Duration heartbeatInterval = DEFAULT_HEARTBEAT_INTERVAL;
    private Duration standbyPollInterval = DEFAULT_STANDBY_POLL_INTERVAL;
    private final Map<String, String> debeziumProperties = new LinkedHashMap<>();
    private Clock clock = Clock.systemUTC();
    private RelayListener listener = RelayListener.NONE;
    private Backoff backoff = Backoff.DEFAULT;
    private MessagingSpans spans = MessagingSpans.NOOP;

    private Builder(String jdbcUrl, OutboxTable table, EventPublisher publisher) {
      this.jdbcUrl = jdbcUrl;
      this.table = table;
      this.publisher = publisher;
    }

    /** Database user, when not in the URL; it needs the REPLICATION attribute. */
    public Builder user(String user) {
      this.user = user;
      return this;
    }

    /** Database password, when not in the URL. */
    public Builder password(String password) {
      this.password = password;
      return this;
    }

    /**
     * Replication slot; default {@code <table>_cdc_slot}. Slots are per cluster, not per database:
     * two outboxes of the same name in two databases of one server need distinct slots.
     */
    public Builder slotName(String slotName) {
      this.slotName = slotName;
      return this;
    }

    /**
     * Publication (created for inserts into the table if missing); default {@code <table>_cdc_pub}.
     */
    public Builder publicationName(String publicationName) {
      this.publicationName = publicationName;
      return this;
    }

    /**
     * Whether the first start (no offsets yet) reads the rows still unrelayed ({@code relayed_at IS
     * NULL}) through a snapshot before streaming; default true. False starts streaming at the
     * slot's creation and leaves older unrelayed rows to someone else.
     */
    public Builder snapshotUnrelayed(boolean snapshotUnrelayed) {
      this.snapshotUnrelayed = snapshotUnrelayed;
      return this;
    }

    /**
     * Whether published rows get {@code relayed_at}, as the polling relay's do; default true.
     * Without it, pending counts, retention cleanup and replay by {@code relayed_at} do not see
     * this relay's work. Quarantined rows are always marked.
     */
    public Builder markRelayed(boolean markRelayed) {
      this.markRelayed = markRelayed;
      return this;
    }

    /** Time between offset commits (Debezium's {@code offset.flush.interval.ms}); default 5 s. */
    public Builder offsetFlushInterval(Duration offsetFlushInterval) {
      this.offsetFlushInterval = offsetFlushInterval;
      return this;
    }

    /** Debezium's {@code poll.interval.ms}; default 5 ms. */
    public Builder pollInterval(Duration pollInterval) {
      this.pollInterval = pollInterval;
      return this;
    }

    /**
     * Debezium's {@code heartbeat.interval.ms} (with the relay's {@link #HEARTBEAT_ACTION_QUERY});
     * default 10 s. Keeps the slot's confirmed LSN moving while the outbox is quiet and other
     * tables write WAL, and is what {@link CdcRelay#lastActivity()} shows while nothing is
     * inserted.
     */
    public Builder heartbeatInterval(Duration heartbeatInterval) {
      this.heartbeatInterval = heartbeatInterval;
      return this;
    }

    /**
     * How often a standby relay (another one holds the slot's advisory lock) tries to take over;
     * default 2 s.
     */
    public Builder standbyPollInterval(Duration standbyPollInterval) {
      this.standbyPollInterval = standbyPollInterval;
      return this;
    }

    /** Longest wait of {@link CdcRelay#start()} for the engine to poll; default 60 s. */
    public Builder startTimeout(Duration startTimeout) {
      this.startTimeout = startTimeout;
      return this;
    }

    /**
     * Any Debezium engine or PostgreSQL connector property, under Debezium's own name; it wins over
     * the relay's value (for example {@code lsn.flush.mode} or {@code heartbeat.interval.ms}).
     */
    public Builder debeziumProperty(String name, String value) {
      this.debeziumProperties.put(
          Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** The clock for the age of the oldest event of a batch; default system UTC. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Callbacks for metrics, the same as the polling relay's; default none. */
    public Builder listener(RelayListener listener) {
      this.listener = listener;
      return this;
    }

    /** Backoff between retries of a batch and between engine restarts. */
    public Builder backoff(Backoff backoff) {
      this.backoff = backoff;
      return this;
    }

    /**
     * A {@code publish} span per relayed event that carries trace context, child of the writer's
     * span, as the polling relay makes; default none.
     */
    public Builder spans(MessagingSpans spans) {
      this.spans = spans;
      return this;
    }

    /**
     * Validates the settings and builds the relay.
     *
     * @throws IllegalArgumentException naming the first invalid setting
     */
    public CdcRelay build() {
      require(
          jdbcUrl != null && jdbcUrl.startsWith("jdbc:postgresql:"),
          "cdc.jdbcUrl must be a jdbc:postgresql: URL, got " + jdbcUrl);
      require(Driver.parseURL(jdbcUrl, null) != null, "cdc.jdbcUrl cannot be parsed: " + jdbcUrl);
      require(table != null, "cdc.table is missing");
      require(publisher != null, "cdc.publisher is missing");
      require(
          slotName == null || NAME.matcher(slotName).matches(),
          "cdc.slotName must match [a-z_][a-z0-9_]{0,62}, got '" + slotName + "'");
      require(
          publicationName == null || NAME.matcher(publicationName).matches(),
          "cdc.publicationName must match [a-z_][a-z0-9_]{0,62}, got '" + publicationName + "'");
      requirePositive("cdc.offsetFlushInterval", offsetFlushInterval);
      requirePositive("cdc.pollInterval", pollInterval);
      requirePositive("cdc.startTimeout", startTimeout);
      requirePositive("cdc.heartbeatInterval", heartbeatInterval);
      requirePositive("cdc.standbyPollInterval", standbyPollInterval);
      require(clock != null, "cdc.clock is missing");
      require(listener != null, "cdc.listener is missing");
      require(backoff != null, "cdc.backoff is missing");
      require(spans != null, "cdc.spans is missing");
      return new CdcRelay(this);
    }

    private static void requirePositive(String name, Duration d) {
      require(
          d != null && !d.isNegative() && !d.isZero(),
          name + " must be a positive duration, got " + d);
    }

    private static void require(boolean ok, String message) {
      if (!ok) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}
