package dev.invalidator.examples.accounts;

import java.sql.SQLException;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * {@code POST .../deposits?amount=N} changes an account; {@code GET} reads it through the cache.
 */
@RestController
public class AccountController {
  private final AccountService accounts;

  public AccountController(AccountService accounts) {
    this.accounts = accounts;
  }

  @PostMapping("/tenants/{tenant}/accounts/{id}/deposits")
  public Account deposit(
      @PathVariable("tenant") String tenant,
      @PathVariable("id") String id,
      @RequestParam("amount") long amount)
      throws SQLException {
    return accounts.deposit(tenant, id, amount);
  }

  @GetMapping("/tenants/{tenant}/accounts/{id}")
  public ResponseEntity<Account> get(
      @PathVariable("tenant") String tenant, @PathVariable("id") String id) {
    return ResponseEntity.of(accounts.find(tenant, id));
  }
}
