package dev.invalidator.outbox;

import java.util.regex.Pattern;

/**
 * Where the outbox lives: a validated PostgreSQL schema and table name.
 *
 * <p>Both names come from configuration and end up inside SQL text (identifiers cannot be bound
 * parameters), so they are checked against an allowlist, {@code [a-z_][a-z0-9_]{0,62}}, and always
 * used double-quoted. Every other name is derived from the table name: the Flyway history table
 * {@code <table>_schema_history}, the notification channel {@code <table>_wakeup}, the trigger, its
 * function and the indexes. The table name is therefore limited to {@value #MAX_TABLE_LENGTH}
 * characters, so that every derived name fits PostgreSQL's 63-character identifier limit without
 * being truncated.
 *
 * @param schema the schema, setting {@code postgres.schema}
 * @param table the table, setting {@code postgres.table}
 */
public record OutboxTable(String schema, String table) {
  /** The default schema. */
  public static final String DEFAULT_SCHEMA = "public";

  /** The default table. */
  public static final String DEFAULT_TABLE = "invalidation_outbox";

  /** Longest table name accepted: 63 minus the longest derived suffix. */
  public static final int MAX_TABLE_LENGTH = 63 - "_schema_history".length();

  private static final Pattern IDENTIFIER = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  /**
   * Validates both names.
   *
   * @throws IllegalArgumentException naming the setting {@code postgres.schema} or {@code
   *     postgres.table}
   */
  public OutboxTable {
    schema = requireIdentifier("postgres.schema", schema);
    table = requireIdentifier("postgres.table", table);
    if (table.length() > MAX_TABLE_LENGTH) {
      throw new IllegalArgumentException(
          "postgres.table must be at most "
              + MAX_TABLE_LENGTH
              + " characters so that derived names such as "
              + table
              + "_schema_history fit PostgreSQL's 63-character limit, got "
              + table.length());
    }
  }

  /** The same as the constructor, reads better at call sites. */
  public static OutboxTable of(String schema, String table) {
    return new OutboxTable(schema, table);
  }

  /** {@code public.invalidation_outbox}. */
  public static OutboxTable defaults() {
    return new OutboxTable(DEFAULT_SCHEMA, DEFAULT_TABLE);
  }

  /** The quoted qualified name for SQL text, such as {@code "public"."invalidation_outbox"}. */
  public String qualified() {
    return quote(schema) + "." + quote(table);
  }

  /**
   * The LISTEN/NOTIFY channel that the outbox trigger notifies after every inserting statement:
   * {@code <table>_wakeup}.
   */
  public String notifyChannel() {
    return requireIdentifier("postgres.table", table + "_wakeup");
  }

  /** The Flyway schema history table of this outbox, in the same schema. */
  public String historyTable() {
    return requireIdentifier("postgres.table", table + "_schema_history");
  }

  @Override
  public String toString() {
    return schema + "." + table;
  }

  static String quote(String identifier) {
    return '"' + identifier + '"';
  }

  private static String requireIdentifier(String setting, String value) {
    if (value == null) {
      throw new IllegalArgumentException(setting + " is missing");
    }
    if (!IDENTIFIER.matcher(value).matches()) {
      throw new IllegalArgumentException(
          setting
              + " must match [a-z_][a-z0-9_]{0,62} (lower-case letters, digits and '_', not"
              + " starting with a digit), got '"
              + value
              + "'");
    }
    return value;
  }
}
