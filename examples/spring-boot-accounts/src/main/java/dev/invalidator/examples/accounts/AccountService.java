package dev.invalidator.examples.accounts;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.JacksonCodec;
import dev.invalidator.redis.TypedCache;
import dev.invalidator.spring.SpringOutboxWriter;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

/**
 * Writes through the database with the outbox event in one transaction; reads through the cache.
 */
@Service
public class AccountService {
  private final JdbcTemplate jdbc;
  private final SpringOutboxWriter outbox;
  private final TypedCache<Account> cache;

  public AccountService(
      JdbcTemplate jdbc, SpringOutboxWriter outbox, CacheClient cache, ObjectMapper mapper) {
    this.jdbc = jdbc;
    this.outbox = outbox;
    this.cache = cache.typed(JacksonCodec.of(mapper, Account.class));
  }

  /** Adds {@code amount} to the account (creating it), and announces the change in the outbox. */
  @Transactional
  public Account deposit(String tenant, String id, long amount) throws SQLException {
    Account after =
        jdbc.queryForObject(
            "INSERT INTO example_account AS a (tenant_id, account_id, balance, version)"
                + " VALUES (?, ?, ?, 1)"
                + " ON CONFLICT (tenant_id, account_id) DO UPDATE"
                + " SET balance = a.balance + excluded.balance, version = a.version + 1"
                + " RETURNING balance, version",
            (rs, n) -> new Account(tenant, id, rs.getLong(1), rs.getLong(2)),
            tenant,
            id,
            amount);
    outbox.append(
        InvalidationEvent.builder()
            .tenant(tenant)
            .aggregate("account", id)
            .version(after.version())
            .eventType("account.deposited")
            .build());
    return after;
  }

  /** The account through the cache; empty when there is none (the absence is cached too). */
  public Optional<Account> find(String tenant, String id) {
    return cache.get(
        tenant,
        "account",
        id,
        "summary",
        () -> {
          List<Account> rows =
              jdbc.query(
                  "SELECT balance, version FROM example_account"
                      + " WHERE tenant_id = ? AND account_id = ?",
                  (rs, n) -> new Account(tenant, id, rs.getLong(1), rs.getLong(2)),
                  tenant,
                  id);
          // Versions start at 1, so a missing row is "absent at version 0".
          return rows.isEmpty()
              ? TypedCache.Loaded.absent(0)
              : TypedCache.Loaded.of(rows.get(0).version(), rows.get(0));
        });
  }
}
