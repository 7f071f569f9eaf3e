package dev.invalidator.examples.plain;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.JacksonCodec;
import dev.invalidator.redis.TypedCache;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * A plain-Java application's use of Invalidator, with {@code invalidator-client} only: a deposit
 * changes an account and appends its invalidation event in one transaction ({@link OutboxWriter}),
 * and a read goes through the fenced cache ({@link TypedCache}). The daemon, running beside the
 * application, relays the events and applies them.
 */
public final class Accounts {
  /** What is cached per account. */
  public record Account(String id, long balance) {}

  private final DataSource dataSource;
  private final String table;
  private final OutboxWriter outbox;
  private final TypedCache<Account> cache;

  /**
   * @param table the accounts table: {@code (tenant text, id text, balance bigint, version bigint)}
   */
  public Accounts(DataSource dataSource, String table, OutboxWriter outbox, CacheClient cache) {
    this.dataSource = dataSource;
    this.table = table;
    this.outbox = outbox;
    this.cache = cache.typed(JacksonCodec.of(Account.class));
  }

  /** Adds {@code amount} to the account and announces its new version, atomically. */
  public long deposit(String tenant, String id, long amount) throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        long version;
        try (PreparedStatement ps =
            c.prepareStatement(
                "UPDATE "
                    + table
                    + " SET balance = balance + ?, version = version + 1"
                    + " WHERE tenant = ? AND id = ? RETURNING version")) {
          ps.setLong(1, amount);
          ps.setString(2, tenant);
          ps.setString(3, id);
          try (ResultSet rs = ps.executeQuery()) {
            if (!rs.next()) {
              throw new SQLException("no account " + tenant + "/" + id);
            }
            version = rs.getLong(1);
          }
        }
        outbox.append(
            c,
            InvalidationEvent.builder()
                .tenant(tenant)
                .aggregate("account", id)
                .version(version)
                .eventType("deposited")
                .build());
        c.commit();
        return version;
      } catch (SQLException | RuntimeException ex) {
        c.rollback();
        throw ex;
      }
    }
  }

  /** The account through the cache: served only if no newer version has been announced. */
  public Optional<Account> find(String tenant, String id) {
    return cache.get(tenant, "account", id, "summary", () -> load(tenant, id));
  }

  private TypedCache.Loaded<Account> load(String tenant, String id) throws SQLException {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT balance, version FROM " + table + " WHERE tenant = ? AND id = ?")) {
      ps.setString(1, tenant);
      ps.setString(2, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next()
            ? TypedCache.Loaded.of(rs.getLong(2), new Account(id, rs.getLong(1)))
            : TypedCache.Loaded.absent(0);
      }
    }
  }
}
