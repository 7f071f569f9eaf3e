package dev.invalidator.examples.accounts;

/**
 * An account as the read endpoint serves it.
 *
 * @param tenant the tenant
 * @param id the account id
 * @param balance the balance in cents
 * @param version the row's version: raised by every change, carried by its invalidation event
 */
public record Account(String tenant, String id, long balance, long version) {}
