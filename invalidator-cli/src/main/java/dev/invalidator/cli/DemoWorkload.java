package dev.invalidator.cli;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.Payload;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The demo's application: accounts of several tenants, writers that change a balance and append the
 * invalidation event in the same transaction, and readers that read through {@link CacheClient}.
 */
final class DemoWorkload {
  static final String TABLE = "invalidator_demo_account";
  static final String TYPE = "account";
  static final String VIEW = "summary";
  private static final Logger log = LoggerFactory.getLogger(DemoWorkload.class);

  final int tenants;
  final int accounts;
  private final DataSource ds;
  private final OutboxWriter outbox;
  private final CacheClient cache;
  private final FreshnessTracker tracker;
  final LongAdder writes = new LongAdder();
  final LongAdder reads = new LongAdder();
  final LongAdder errors = new LongAdder();
  final LongAdder dropped = new LongAdder();

  /** Negative control: the fraction of writes committed without their outbox event. */
  volatile double dropInvalidations;

  /** The payload tag every account's events carry besides the account's own (a list page). */
  static final String LIST_TAG = "accounts";

  /**
   * With a CDN: each event also names the account and the tenant's account list as {@code
   * cdn_tags}, and each write's time is kept per rendered tag (null: no CDN).
   */
  private final FakeCdn cdn;

  /** Rendered CDN tag -> the {@link System#nanoTime()} just before the last write's commit. */
  final java.util.Map<String, Long> cdnWrites = new java.util.concurrent.ConcurrentHashMap<>();

  DemoWorkload(
      DataSource ds,
      OutboxWriter outbox,
      CacheClient cache,
      FreshnessTracker tracker,
      int tenants,
      int accounts,
      FakeCdn cdn) {
    this.ds = ds;
    this.cdn = cdn;
    this.outbox = outbox;
    this.cache = cache;
    this.tracker = tracker;
    this.tenants = tenants;
    this.accounts = accounts;
  }

  static String tenant(int t) {
    return "tenant-" + t;
  }

  static String account(int a) {
    return "acct-" + a;
  }

  /** Creates (or empties) the demo table and inserts every account at version 1. */
  void setUp() throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE IF NOT EXISTS "
              + TABLE
              // varchar, not text: MySQL and MariaDB index no text column without a length.
              + " (tenant_id varchar(64) NOT NULL, account_id varchar(128) NOT NULL,"
              + " balance bigint NOT NULL,"
              + " version bigint NOT NULL, PRIMARY KEY (tenant_id, account_id))");
      s.execute("TRUNCATE " + TABLE);
      c.setAutoCommit(false);
      try (PreparedStatement ps =
          c.prepareStatement("INSERT INTO " + TABLE + " VALUES (?, ?, 0, 1)")) {
        for (int t = 0; t < tenants; t++) {
          for (int a = 0; a < accounts; a++) {
            ps.setString(1, tenant(t));
            ps.setString(2, account(a));
            ps.addBatch();
          }
        }
        ps.executeBatch();
      }
      c.commit();
    }
    for (int t = 0; t < tenants; t++) {
      for (int a = 0; a < accounts; a++) {
        tracker.committed(key(tenant(t), account(a)), 1, System.nanoTime());
      }
    }
  }

  static String key(String tenant, String account) {
    return tenant + "/" + account;
  }

  /** One business transaction: balance change, version + 1, outbox row; one commit. */
  void write() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    String tenant = tenant(r.nextInt(tenants));
    String account = account(r.nextInt(accounts));
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      long version;
      try (PreparedStatement ps =
          c.prepareStatement(
              "UPDATE "
                  + TABLE
                  + " SET balance = balance + ?, version = version + 1"
                  + " WHERE tenant_id = ? AND account_id = ?")) {
        ps.setLong(1, r.nextLong(-100, 101));
        ps.setString(2, tenant);
        ps.setString(3, account);
        ps.executeUpdate();
      }
      // A separate read in the same transaction (MySQL has no UPDATE ... RETURNING): the row is
      // locked by the update, so this is the version the update wrote.
      try (PreparedStatement ps =
          c.prepareStatement(
              "SELECT version FROM " + TABLE + " WHERE tenant_id = ? AND account_id = ?")) {
        ps.setString(1, tenant);
        ps.setString(2, account);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          version = rs.getLong(1);
        }
      }
      boolean drop = dropInvalidations > 0 && r.nextDouble() < dropInvalidations;
      if (drop) {
        dropped.increment();
      } else {
        outbox.append(
            c,
            InvalidationEvent.builder()
                .tenant(tenant)
                .aggregate(TYPE, account)
                .version(version)
                .eventType("account.balance_changed")
                .payload(
                    cdn == null
                        ? Payload.ofViews(VIEW)
                        : new Payload(List.of(VIEW), List.of(), List.of(account, LIST_TAG)))
                .build());
      }
      // Taken before the commit: the purge of this write's tags can only come after it.
      long beforeCommit = System.nanoTime();
      c.commit();
      if (cdn != null) {
        cdnWrites.merge(cdn.rendered(tenant, account), beforeCommit, Math::max);
        cdnWrites.merge(cdn.rendered(tenant, LIST_TAG), beforeCommit, Math::max);
      }
      tracker.committed(key(tenant, account), version, System.nanoTime());
      writes.increment();
    } catch (SQLException e) {
      errors.increment();
      log.warn("demo write failed: {}", e.getMessage());
    }
  }

  /** One read through the cache, checked against the newest version committed when it began. */
  void read() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    String tenant = tenant(r.nextInt(tenants));
    String account = account(r.nextInt(accounts));
    String key = key(tenant, account);
    long expected = tracker.latest(key);
    CacheClient.Versioned v = cache.get(tenant, TYPE, account, VIEW, () -> load(tenant, account));
    reads.increment();
    if (v != null) {
      tracker.read(key, expected, v.version(), System.nanoTime());
    }
  }

  /** The loader: the row and its version, straight from the database. */
  CacheClient.Versioned load(String tenant, String account) throws SQLException {
    try (Connection c = ds.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT version, balance FROM "
                    + TABLE
                    + " WHERE tenant_id = ? AND account_id = ?")) {
      ps.setString(1, tenant);
      ps.setString(2, account);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        String json = "{\"balance\":" + rs.getLong(2) + "}";
        return new CacheClient.Versioned(rs.getLong(1), json.getBytes(StandardCharsets.UTF_8));
      }
    }
  }

  /**
   * CDN tags written after their last purge: content the CDN may still serve older than the
   * database. Must be 0 once the CDN target's group has drained.
   */
  List<String> cdnStaleTags() {
    List<String> stale = new java.util.ArrayList<>();
    cdnWrites.forEach(
        (tag, written) -> {
          Long purged = cdn.lastPurged(tag);
          if (purged == null || purged < written) {
            stale.add(tag);
          }
        });
    return stale;
  }

  /** The database version of every account, for the check after draining. */
  java.util.Map<String, Long> databaseVersions() throws SQLException {
    java.util.Map<String, Long> out = new java.util.HashMap<>();
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT tenant_id, account_id, version FROM " + TABLE)) {
      while (rs.next()) {
        out.put(key(rs.getString(1), rs.getString(2)), rs.getLong(3));
      }
    }
    return out;
  }
}
