package dev.invalidator.outbox;

import dev.invalidator.core.Backoff;
import dev.invalidator.core.EventPublisher;
import dev.invalidator.core.InvalidEventException;
import dev.invalidator.core.MessagingSpans;
import io.opentelemetry.api.trace.Span;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves committed outbox rows to an {@link EventPublisher} (a Redis stream) and deletes relayed
 * rows after the retention window.
 *
 * <p>Design notes. {@link #relayOnce()} claims the oldest unrelayed rows with {@code FOR UPDATE
 * SKIP LOCKED} and marks them relayed in one statement ({@code UPDATE ... RETURNING}), publishes
 * them and commits, all in one database transaction. It never scans {@code id > lastId}: ids are
 * assigned before commit, so transactions commit out of id order and such a scan would skip a row
 * that commits late. Several relays (threads or processes) may run against one table: {@code SKIP
 * LOCKED} gives each a disjoint batch, and a relay that loses the race simply sees fewer rows. If
 * publishing fails the transaction rolls back and the rows are published again later; a crash
 * between publish and commit does the same. Both cause duplicates downstream, which are harmless
 * (G4).
 *
 * <p>Quarantine. A row that cannot be turned into a valid event (an identifier with a forbidden
 * character, a malformed payload; only plain-SQL producers can insert such rows, the CHECK
 * constraints refuse the rest) can neither be published through the typed port nor be left
 * unrelayed, where it would be claimed again forever. The relay marks it relayed with the
 * validation message in {@code relay_error}, logs a WARN naming the row id, the event id and the
 * message, and reports it through {@link RelayListener#quarantined}. Quarantined rows are kept by
 * retention cleanup and counted by {@link OutboxStats}; after fixing such a row, setting {@code
 * relayed_at} and {@code relay_error} back to null makes the relay publish it. A malformed {@code
 * traceparent} or {@code tracestate} does not quarantine a row: the invalidation matters more than
 * its trace, so the trace context is dropped with a WARN.
 *
 * <p>Databases. Everything that differs between PostgreSQL and MySQL/MariaDB (the claim, the
 * isolation level, clean-up, wake-up) is behind {@link OutboxDialect}, found from the data source's
 * first connection unless set on the builder. On MySQL and MariaDB there is no LISTEN/NOTIFY: the
 * loop below simply does not listen and waits out each interval, which {@link #nextWait} keeps at a
 * few milliseconds while rows arrive and doubles up to {@code pollInterval} while none do.
 *
 * <p>{@link #run()} is the daemon loop: LISTEN (PostgreSQL) on {@link OutboxTable#notifyChannel()}
 * (a dedicated connection, read by its own thread, {@link WakeupListener}; the table's trigger
 * notifies at commit, plain-SQL producers included), drain, clean up when due, then wait for a
 * notification or at most {@link #nextWait} (the fallback poll for a lost notification or
 * connection). LISTEN is issued before the drain, and a notification that arrives during a drain
 * ends the next wait at once, so a row committed after the drain's query always wakes the next
 * iteration. The loop catches every exception at its boundary (a failed LISTEN connection
 * included), logs it, tells the listener, drops the LISTEN connection (reopened next iteration),
 * backs off with full jitter and continues. {@link #stop()} makes it return after the batch in
 * flight, ending any wait at once; an interrupt does the same. Waiting is measured with {@link
 * System#nanoTime()}, while ages, retention cutoffs and {@link #lastLoop()} use the injected clock.
 *
 * <p>Thread safety: {@link #relayOnce()}, {@link #drain()} and {@link #cleanUp()} may be called
 * from any thread, concurrently; {@link #run()} runs on one thread at a time. Configuration is
 * fixed at {@link Builder#build()}.
 */
public final class PollingRelay implements Runnable {
  /** Default rows claimed and published per transaction while the relay keeps up. */
  public static final int DEFAULT_BATCH_SIZE = 500;

  /** Default largest batch the relay grows to while it is behind. */
  public static final int DEFAULT_MAX_BATCH_SIZE = 5000;

  /** Default number of batches relayed at once while the relay is behind. */
  public static final int DEFAULT_CONCURRENCY = 2;

  /** Default longest wait for a notification before polling anyway. */
  public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(1);

  /** Default time relayed rows are kept (the replay window). */
  public static final Duration DEFAULT_RETENTION = Duration.ofHours(24);

  /** Default time between retention cleanups. */
  public static final Duration DEFAULT_CLEANUP_INTERVAL = Duration.ofMinutes(1);

  /** Default most rows deleted per cleanup statement. */
  public static final int DEFAULT_CLEANUP_BATCH_SIZE = 1000;

  static final int WAIT_SLICE_MILLIS = 250;

  /**
   * How soon the relay looks again after a drain that found rows, without waiting for a
   * notification; each drain that finds nothing doubles the wait, up to {@code pollInterval}. The
   * wake-up trigger lets only one committing outbox transaction notify at a time (so commits are
   * not serialised); while its commit is slow, transactions that commit alongside it send nothing.
   * Measured at 2,000 events/s: notifications paused for 50-175 ms three times a second, and a
   * relay that waited for them let rows wait as long. While rows keep arriving the relay therefore
   * polls every few milliseconds (a claim that finds nothing costs one index probe), and once they
   * stop it is back to waiting for notifications within a few doublings.
   */
  static final Duration BUSY_POLL = Duration.ofMillis(5);

  private static final Logger log = LoggerFactory.getLogger(PollingRelay.class);

  private final DataSource dataSource;
  private final OutboxTable table;
  private final EventPublisher publisher;
  private final int batchSize;
  private final int maxBatchSize;
  private final int concurrency;
  private final Duration pollInterval;
  private final Duration retention;
  private final Duration cleanupInterval;
  private final int cleanupBatchSize;
  private final Clock clock;
  private final RelayListener listener;
  private final Backoff backoff;
  private final MessagingSpans spans;

  private final OutboxDialect fixedDialect;
  private volatile OutboxDialect dialect;

  private final CountDownLatch stopSignal = new CountDownLatch(1);
  private final AtomicBoolean looping = new AtomicBoolean();
  private volatile boolean running = true;
  private volatile Instant lastLoop;

  /** Released by the wake-up listener on a notification and by {@link #stop()}. */
  private final Semaphore wakeup = new Semaphore(0);

  // Touched only by the thread in run().
  private WakeupListener wakeupListener;
  private Instant nextCleanup = Instant.MIN;

  private PollingRelay(Builder b) {
    this.dataSource = b.dataSource;
    this.table = b.table;
    this.publisher = b.publisher;
    this.batchSize = b.batchSize;
    this.maxBatchSize = Math.max(b.batchSize, b.maxBatchSize);
    this.concurrency = b.concurrency;
    this.pollInterval = b.pollInterval;
    this.retention = b.retention;
    this.cleanupInterval = b.cleanupInterval;
    this.cleanupBatchSize = b.cleanupBatchSize;
    this.clock = b.clock;
    this.listener = b.listener;
    this.backoff = b.backoff;
    this.spans = b.spans;
    this.lastLoop = clock.instant();
    this.fixedDialect = b.dialect;
  }

  /**
   * A builder for a relay from {@code table} to {@code publisher}; connections come from {@code
   * dataSource}. {@link #run()} holds one connection for LISTEN and borrows one per batch.
   */
  public static Builder builder(
      DataSource dataSource, OutboxTable table, EventPublisher publisher) {
    return new Builder(dataSource, table, publisher);
  }

  /**
   * The database's dialect: the one set on the builder, else found from the first connection (a
   * data source does not change databases).
   */
  private OutboxDialect dialect(Connection c) throws SQLException {
    OutboxDialect d = dialect;
    if (d == null) {
      d = fixedDialect != null ? fixedDialect : OutboxDialect.of(c);
      dialect = d;
    }
    return d;
  }

  /** The table this relay reads. */
  public OutboxTable table() {
    return table;
  }

  /**
   * Relays one batch: in one transaction, claims up to {@code batchSize} unrelayed rows in id order
   * ({@code FOR UPDATE SKIP LOCKED}), publishes the valid ones, quarantines the invalid ones, marks
   * all of them relayed and commits.
   *
   * @return the number of rows relayed (published plus quarantined); 0 when none was waiting or
   *     other relays hold every waiting row
   * @throws dev.invalidator.core.InvalidatorException when the database or the publisher failed;
   *     the transaction was rolled back and the rows will be relayed again
   */
  public int relayOnce() {
    return relayBatch(batchSize);
  }

  /** Relays one batch of at most {@code limit} rows; see {@link #relayOnce()}. */
  private int relayBatch(int limit) {
    Batch batch;
    long started = System.nanoTime();
    long committed;
    try (Connection c = dataSource.getConnection()) {
      OutboxDialect d = dialect(c);
      boolean autoCommit = c.getAutoCommit();
      int isolation = setRelayIsolation(c, d);
      if (autoCommit) {
        c.setAutoCommit(false);
      }
      try {
        batch = relay(c, d, limit);
        c.commit();
        committed = System.nanoTime();
      } catch (SQLException | RuntimeException ex) {
        rollbackQuietly(c, ex);
        throw ex;
      } finally {
        if (autoCommit) {
          c.setAutoCommit(true);
        }
        restoreIsolation(c, isolation);
      }
    } catch (SQLException ex) {
      throw SqlErrors.translate("relaying from " + table, ex);
    }
    if (batch.published > 0) {
      if (log.isDebugEnabled()) {
        log.debug(
            "relayed {} events from {} (connection and claim {} ms, publish {} ms, commit {} ms)",
            batch.published,
            table,
            (batch.claimedAt - started) / 1_000_000,
            (batch.publishedAt - batch.claimedAt) / 1_000_000,
            (committed - batch.publishedAt) / 1_000_000);
      }
      notifyListener(l -> l.published(batch.published, batch.oldestAge));
    }
    if (batch.quarantined > 0) {
      notifyListener(l -> l.quarantined(batch.quarantined));
    }
    return batch.published + batch.quarantined;
  }

  /**
   * Sets the dialect's isolation level for relay transactions (READ COMMITTED on MySQL/MariaDB, see
   * {@link MySqlDialect}) before the transaction starts; returns the level to restore, or {@link
   * Connection#TRANSACTION_NONE} when nothing was changed.
   */
  private static int setRelayIsolation(Connection c, OutboxDialect d) throws SQLException {
    int wanted = d.relayIsolation();
    if (wanted == Connection.TRANSACTION_NONE) {
      return Connection.TRANSACTION_NONE;
    }
    int previous = c.getTransactionIsolation();
    if (previous == wanted) {
      return Connection.TRANSACTION_NONE;
    }
    c.setTransactionIsolation(wanted);
    return previous;
  }

  /** A pooled connection goes back with the isolation level it came with. */
  private static void restoreIsolation(Connection c, int previous) throws SQLException {
    if (previous != Connection.TRANSACTION_NONE) {
      c.setTransactionIsolation(previous);
    }
  }

  /**
   * Relays batches until one comes back smaller than it asked for (the table is drained, as far as
   * this relay can see) or the relay is stopped. The first batch asks for {@code batchSize} rows;
   * while batches come back full the relay is behind, and each next batch asks for twice as many,
   * up to {@code maxBatchSize}, so the fixed cost of a batch (its round trips and its commit) is
   * spread over more rows exactly when rows pile up.
   *
   * @return the number of rows relayed
   */
  public int drain() {
    int total = 0;
    int limit = batchSize;
    int n;
    do {
      n = relayBatch(limit);
      total += n;
      boolean full = n >= limit;
      limit = full ? Math.min(maxBatchSize, limit * 2) : batchSize;
      if (!full) {
        break;
      }
    } while (running && !Thread.currentThread().isInterrupted());
    return total;
  }

  /**
   * {@link #drain()} on {@code concurrency} threads at once (this one and the drain pool's) while
   * the relay is behind: while one batch waits for Redis or for its commit, another is claimed and
   * published. {@code SKIP LOCKED} keeps their batches disjoint; a drainer that finds nothing left
   * returns at once.
   *
   * <p>The other drainers start only when this thread's first batch came back full. While the relay
   * keeps up, a wake-up finds a few rows: a second drainer would claim at the same moment, find
   * them locked and come back empty, one claim and one commit for nothing on every wake-up
   * (measured at 2,000 events/s: about 200 wake-ups a second, so 400 claims where 200 do).
   */
  private int drainConcurrently(ExecutorService pool) throws InterruptedException {
    if (pool == null) {
      return drain();
    }
    int first = relayBatch(batchSize);
    if (first < batchSize || !running || Thread.currentThread().isInterrupted()) {
      return first;
    }
    List<Future<Integer>> others = new ArrayList<>(concurrency - 1);
    for (int i = 1; i < concurrency; i++) {
      others.add(pool.submit(this::drain));
    }
    int total = first;
    RuntimeException failure = null;
    try {
      total += drain();
    } catch (RuntimeException ex) {
      failure = ex;
    }
    for (Future<Integer> f : others) {
      try {
        total += f.get();
      } catch (ExecutionException ex) {
        RuntimeException cause =
            ex.getCause() instanceof RuntimeException re
                ? re
                : new IllegalStateException(ex.getCause());
        if (failure == null) {
          failure = cause;
        } else {
          failure.addSuppressed(cause);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
    return total;
  }

  /**
   * Deletes relayed rows whose {@code relayed_at} is older than the retention window, in statements
   * of at most {@code cleanupBatchSize} rows, each its own transaction. Quarantined rows are kept.
   * {@link #run()} calls this every {@code cleanupInterval}.
   *
   * @return the number of rows deleted
   */
  public int cleanUp() {
    Instant cutoff = clock.instant().minus(retention);
    int total = 0;
    try (Connection c = dataSource.getConnection()) {
      OutboxDialect d = dialect(c);
      int isolation = setRelayIsolation(c, d);
      try {
        int n;
        do {
          n = d.deleteRelayedBefore(c, table, cutoff, cleanupBatchSize);
          if (!c.getAutoCommit()) {
            c.commit();
          }
          total += n;
        } while (n >= cleanupBatchSize && running && !Thread.currentThread().isInterrupted());
      } finally {
        restoreIsolation(c, isolation);
      }
    } catch (SQLException ex) {
      throw SqlErrors.translate("cleaning up " + table, ex);
    }
    if (total > 0) {
      log.debug("deleted {} relayed rows older than {} from {}", total, cutoff, table);
      int deleted = total;
      notifyListener(l -> l.cleanedUp(deleted));
    }
    return total;
  }

  /**
   * The relay loop; see the class description. Returns after {@link #stop()} or an interrupt (whose
   * flag it leaves set).
   *
   * @throws IllegalStateException when the loop is already running on another thread
   */
  @Override
  public void run() {
    if (!looping.compareAndSet(false, true)) {
      throw new IllegalStateException("relay for " + table + " is already running");
    }
    log.info(
        "relay for {} started (batch {} growing to {} while behind, {} at once, poll interval {},"
            + " wake-up {})",
        table,
        batchSize,
        maxBatchSize,
        concurrency,
        pollInterval,
        fixedDialect == OutboxDialect.MYSQL
            ? "none, polling"
            : "LISTEN " + table.notifyChannel() + " on PostgreSQL, else polling");
    int failures = 0;
    int quietDrains = 0;
    ExecutorService pool = null;
    if (concurrency > 1) {
      AtomicInteger n = new AtomicInteger();
      String name = Thread.currentThread().getName();
      pool =
          Executors.newFixedThreadPool(
              concurrency - 1,
              r -> {
                Thread t = new Thread(r, name + "-drain-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
              });
    }
    try {
      while (running && !Thread.currentThread().isInterrupted()) {
        try {
          listen();
          int relayed = drainConcurrently(pool);
          quietDrains = relayed > 0 ? 0 : Math.min(quietDrains + 1, 30);
          if (!clock.instant().isBefore(nextCleanup)) {
            nextCleanup = clock.instant().plus(cleanupInterval);
            cleanUp();
          }
          lastLoop = clock.instant();
          failures = 0;
          awaitWakeup(nextWait(quietDrains));
        } catch (SQLException | RuntimeException ex) {
          closeListen();
          notifyListener(l -> l.loopError(ex));
          Duration delay = backoff.delay(failures++);
          log.warn(
              "relay loop for {} failed ({} in a row), retrying in {} ms: {}",
              table,
              failures,
              delay.toMillis(),
              ex.toString(),
              ex);
          if (stopSignal.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
            break;
          }
        }
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    } finally {
      if (pool != null) {
        pool.shutdown();
        try {
          if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
            pool.shutdownNow();
          }
        } catch (InterruptedException ex) {
          pool.shutdownNow();
          Thread.currentThread().interrupt();
        }
      }
      closeListen();
      looping.set(false);
      log.info("relay for {} stopped", table);
    }
  }

  /** Asks {@link #run()} to return after the batch in flight. A stopped relay stays stopped. */
  public void stop() {
    running = false;
    stopSignal.countDown();
    wakeup.release();
  }

  /**
   * When {@link #run()} last completed an iteration (drain and cleanup) without error, by the
   * relay's clock; a stuck or failing loop stops advancing it. Initially the build time.
   */
  public Instant lastLoop() {
    return lastLoop;
  }

  private Batch relay(Connection c, OutboxDialect d, int limit) throws SQLException {
    d.beforeClaim(c);
    List<EventPublisher.Outgoing> out = new ArrayList<>();
    List<Quarantine> bad = new ArrayList<>();
    Instant oldest = null;
    d.claim(
        c,
        table,
        limit,
        rs -> {
          long id = rs.getLong(1);
          UUID eventId = d.getUuid(rs, 2);
          try {
            out.add(new EventPublisher.Outgoing(id, OutboxRows.toEvent(rs, table, d)));
          } catch (InvalidEventException ex) {
            log.warn(
                "outbox {} row {} (event {}) quarantined, it cannot become a valid event: {}",
                table,
                id,
                eventId,
                ex.getMessage());
            bad.add(new Quarantine(id, ex.getMessage()));
          }
        });
    for (EventPublisher.Outgoing o : out) {
      if (oldest == null || o.event().createdAt().isBefore(oldest)) {
        oldest = o.event().createdAt();
      }
    }
    long claimedAt = System.nanoTime();
    if (!out.isEmpty()) {
      // PostgreSQL's RETURNING gives no order; publish in id order, as the rows were claimed.
      out.sort(java.util.Comparator.comparingLong(EventPublisher.Outgoing::outboxId));
      publishTraced(out);
    }
    long publishedAt = System.nanoTime();
    if (!bad.isEmpty()) {
      try (PreparedStatement ps =
          c.prepareStatement(
              "UPDATE " + d.qualified(table) + " SET relay_error = ? WHERE id = ?")) {
        for (Quarantine q : bad) {
          ps.setString(1, q.reason);
          ps.setLong(2, q.id);
          ps.addBatch();
        }
        ps.executeBatch();
      }
    }
    Duration age = Duration.ZERO;
    if (oldest != null) {
      age = Duration.between(oldest, clock.instant());
      age = age.isNegative() ? Duration.ZERO : age;
    }
    return new Batch(out.size(), bad.size(), age, claimedAt, publishedAt);
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
      started.forEach(s -> MessagingSpans.fail(s, ex));
      throw ex;
    } finally {
      started.forEach(Span::end);
    }
  }

  private void listen() throws SQLException {
    OutboxDialect known = dialect;
    if (wakeupListener != null || (known != null && !known.notifies())) {
      return;
    }
    Connection c = dataSource.getConnection();
    try {
      if (!dialect(c).notifies()) {
        closeQuietly(c); // nothing to listen on: the loop polls
        return;
      }
      if (!c.getAutoCommit()) {
        c.setAutoCommit(true);
      }
      try (Statement s = c.createStatement()) {
        s.execute("LISTEN " + OutboxTable.quote(table.notifyChannel()));
      }
      wakeupListener =
          new WakeupListener(
              c, c.unwrap(PGConnection.class), Thread.currentThread().getName() + "-listen");
      log.debug("relay for {} listening on {}", table, table.notifyChannel());
    } catch (SQLException | RuntimeException ex) {
      closeQuietly(c);
      throw ex;
    }
  }

  /**
   * The longest wait before the next drain: {@link #BUSY_POLL} right after rows were found,
   * doubling with every drain that found nothing, never beyond {@code pollInterval}.
   */
  Duration nextWait(int quietDrains) {
    long millis = BUSY_POLL.toMillis() << Math.min(quietDrains, 20);
    return millis >= pollInterval.toMillis() ? pollInterval : Duration.ofMillis(millis);
  }

  /**
   * Waits for a notification, at most {@code max}; returns early on stop or interrupt. Returns true
   * when a notification arrived (on MySQL and MariaDB, which have none, it waits out {@code max}).
   * A notification that arrived while the relay was draining counts: the wait then returns at once.
   *
   * @throws SQLException when the LISTEN connection failed; the loop reopens it
   */
  private boolean awaitWakeup(Duration max) throws SQLException {
    boolean woke = false;
    try {
      woke = wakeup.tryAcquire(max.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    }
    wakeup.drainPermits();
    WakeupListener l = wakeupListener;
    if (l != null && l.failure != null) {
      SQLException failure = l.failure;
      closeListen();
      throw failure;
    }
    return woke && running;
  }

  private void closeListen() {
    WakeupListener l = wakeupListener;
    wakeupListener = null;
    if (l != null) {
      l.close();
    }
  }

  /**
   * The LISTEN connection and the thread that reads it. The relay thread never reads notifications
   * itself: the driver's {@code getNotifications(timeout)} keeps reading for as long as another
   * notification follows within a millisecond, and under a steady write rate (each committing
   * outbox transaction may notify) that kept the relay inside the call for up to 300 ms while rows
   * waited (measured at 2,000 events/s, with a 5 ms wait asked for). This thread reads them and
   * releases {@link #wakeup}; the relay waits on that with its own time limit.
   */
  private final class WakeupListener implements Runnable {
    private final Connection connection;
    private final PGConnection pg;
    private final Thread thread;
    private volatile boolean closed;
    private volatile SQLException failure;

    WakeupListener(Connection connection, PGConnection pg, String threadName) {
      this.connection = connection;
      this.pg = pg;
      this.thread = new Thread(this, threadName);
      thread.setDaemon(true);
      thread.start();
    }

    @Override
    public void run() {
      try {
        while (!closed) {
          PGNotification[] notifications = pg.getNotifications(WAIT_SLICE_MILLIS);
          if (notifications != null && notifications.length > 0 && !closed) {
            log.trace("relay for {} woken by {} notifications", table, notifications.length);
            signal();
          }
        }
      } catch (SQLException | RuntimeException ex) {
        if (!closed) {
          failure =
              ex instanceof SQLException sql
                  ? sql
                  : new SQLException("reading notifications failed: " + ex, ex);
          signal();
        }
      }
    }

    private void signal() {
      if (wakeup.availablePermits() == 0) {
        wakeup.release();
      }
    }

    /** Stops the thread (within one wait slice), then UNLISTENs and returns the connection. */
    void close() {
      closed = true;
      try {
        thread.join(4L * WAIT_SLICE_MILLIS);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
      // A pooled connection must not stay subscribed for its next borrower. The driver serialises
      // this with a read still in progress on the thread, if the join above timed out.
      try (Statement s = connection.createStatement()) {
        s.execute("UNLISTEN *");
      } catch (SQLException | RuntimeException ex) {
        log.debug("UNLISTEN on {} failed: {}", table, ex.toString());
      }
      closeQuietly(connection);
    }
  }

  private void closeQuietly(Connection c) {
    try {
      c.close();
    } catch (SQLException | RuntimeException ex) {
      log.debug("closing a connection to {} failed: {}", table, ex.toString());
    }
  }

  private void rollbackQuietly(Connection c, Exception cause) {
    try {
      c.rollback();
    } catch (SQLException | RuntimeException ex) {
      cause.addSuppressed(ex);
    }
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
    return "PollingRelay[" + table + "]";
  }

  private record Batch(
      int published, int quarantined, Duration oldestAge, long claimedAt, long publishedAt) {}

  private record Quarantine(long id, String reason) {}

  /**
   * Settings of a {@link PollingRelay}. Each setter stores; {@link #build()} validates everything
   * and names the setting ({@code relay.batchSize} and so on) in its message.
   */
  public static final class Builder {
    private final DataSource dataSource;
    private final OutboxTable table;
    private final EventPublisher publisher;
    private int batchSize = DEFAULT_BATCH_SIZE;
    private int maxBatchSize = DEFAULT_MAX_BATCH_SIZE;
    private int concurrency = DEFAULT_CONCURRENCY;
    private Duration pollInterval = DEFAULT_POLL_INTERVAL;
    private Duration retention = DEFAULT_RETENTION;
    private Duration cleanupInterval = DEFAULT_CLEANUP_INTERVAL;
    private int cleanupBatchSize = DEFAULT_CLEANUP_BATCH_SIZE;
    private Clock clock = Clock.systemUTC();
    private RelayListener listener = RelayListener.NONE;
    private Backoff backoff = Backoff.DEFAULT;
    private MessagingSpans spans = MessagingSpans.NOOP;
    private OutboxDialect dialect;

    private Builder(DataSource dataSource, OutboxTable table, EventPublisher publisher) {
      this.dataSource = dataSource;
      this.table = table;
      this.publisher = publisher;
    }

    /** Most rows per transaction, 1 to 10000; default {@value #DEFAULT_BATCH_SIZE}. */
    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    /**
     * Largest batch while the relay is behind, {@code batchSize} to 10000; default {@value
     * #DEFAULT_MAX_BATCH_SIZE} (or {@code batchSize} when that is larger). Full batches double the
     * next one up to this size; the first batch that is not full resets it to {@code batchSize}.
     */
    public Builder maxBatchSize(int maxBatchSize) {
      this.maxBatchSize = maxBatchSize;
      return this;
    }

    /**
     * Batches relayed at once by {@link #run()} while rows are waiting, 1 to 16; default {@value
     * #DEFAULT_CONCURRENCY}. Each takes a pooled connection while it runs.
     */
    public Builder concurrency(int concurrency) {
      this.concurrency = concurrency;
      return this;
    }

    /** Longest wait for a notification before polling anyway; default 1 s. */
    public Builder pollInterval(Duration pollInterval) {
      this.pollInterval = pollInterval;
      return this;
    }

    /** How long relayed rows are kept for replay; default 24 h. */
    public Builder retention(Duration retention) {
      this.retention = retention;
      return this;
    }

    /** Time between retention cleanups in {@link #run()}; default 1 min. */
    public Builder cleanupInterval(Duration cleanupInterval) {
      this.cleanupInterval = cleanupInterval;
      return this;
    }

    /** Most rows deleted per cleanup statement, 1 to 100000; default 1000. */
    public Builder cleanupBatchSize(int cleanupBatchSize) {
      this.cleanupBatchSize = cleanupBatchSize;
      return this;
    }

    /** The clock for ages, retention cutoffs and {@link #lastLoop()}; default system UTC. */
    public Builder clock(Clock clock) {
      this.clock = clock;
      return this;
    }

    /** Callbacks for metrics; default none. */
    public Builder listener(RelayListener listener) {
      this.listener = listener;
      return this;
    }

    /** Backoff of the loop after an error; default {@link Backoff#DEFAULT}. */
    public Builder backoff(Backoff backoff) {
      this.backoff = backoff;
      return this;
    }

    /**
     * A {@code publish} span per relayed event that carries trace context, child of the writer's
     * span; default none.
     */
    public Builder spans(MessagingSpans spans) {
      this.spans = spans;
      return this;
    }

    /** The database's dialect; default: found from the data source's first connection. */
    public Builder dialect(OutboxDialect dialect) {
      this.dialect = dialect;
      return this;
    }

    /**
     * Validates the settings and builds the relay.
     *
     * @throws IllegalArgumentException naming the first invalid setting
     */
    public PollingRelay build() {
      require(dataSource != null, "relay.dataSource is missing");
      require(table != null, "relay.table is missing");
      require(publisher != null, "relay.publisher is missing");
      require(
          batchSize >= 1 && batchSize <= 10_000,
          "relay.batchSize must be 1..10000, got " + batchSize);
      require(
          maxBatchSize >= 1 && maxBatchSize <= 10_000,
          "relay.maxBatchSize must be 1..10000, got " + maxBatchSize);
      require(
          concurrency >= 1 && concurrency <= 16,
          "relay.concurrency must be 1..16, got " + concurrency);
      requirePositive("relay.pollInterval", pollInterval);
      requirePositive("relay.retention", retention);
      requirePositive("relay.cleanupInterval", cleanupInterval);
      require(
          cleanupBatchSize >= 1 && cleanupBatchSize <= 100_000,
          "relay.cleanupBatchSize must be 1..100000, got " + cleanupBatchSize);
      require(clock != null, "relay.clock is missing");
      require(listener != null, "relay.listener is missing");
      require(backoff != null, "relay.backoff is missing");
      require(spans != null, "relay.spans is missing");
      return new PollingRelay(this);
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
