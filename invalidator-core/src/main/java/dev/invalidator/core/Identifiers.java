package dev.invalidator.core;

/**
 * Validation of every string that ends up inside a Redis key: tenant ids, aggregate types and ids,
 * view and tag names.
 *
 * <p>An allowlist rather than a denylist: letters, digits and {@code . _ - @ + = / ~}. That refuses
 * everything DESIGN.md forbids ({@code { } | * ? [ ]}, whitespace, control characters) and also
 * {@code :}, the key separator, so no identifier can imitate the structure of a key.
 */
public final class Identifiers {
  /** Longest tenant id accepted. */
  public static final int MAX_TENANT_LENGTH = 64;

  /** Longest aggregate type, aggregate id, view or tag accepted. */
  public static final int MAX_IDENTIFIER_LENGTH = 128;

  private Identifiers() {}

  /**
   * Returns {@code value} if it is a valid identifier.
   *
   * @param field the name used in the error message, such as {@code tenant_id}
   * @throws InvalidEventException naming the field and the offending character
   */
  public static String require(String field, String value, int maxLength) {
    if (value == null) {
      throw new InvalidEventException(field, "is missing");
    }
    if (value.isEmpty()) {
      throw new InvalidEventException(field, "is empty");
    }
    if (value.length() > maxLength) {
      throw new InvalidEventException(
          field, "is " + value.length() + " characters long; the limit is " + maxLength);
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (!allowed(c)) {
        throw new InvalidEventException(
            field,
            "contains "
                + describe(c)
                + " at position "
                + i
                + "; allowed are letters, digits and . _ - @ + = / ~");
      }
    }
    return value;
  }

  public static String tenant(String value) {
    return require("tenant_id", value, MAX_TENANT_LENGTH);
  }

  private static boolean allowed(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '.'
        || c == '_'
        || c == '-'
        || c == '@'
        || c == '+'
        || c == '='
        || c == '/'
        || c == '~';
  }

  private static String describe(char c) {
    if (Character.isWhitespace(c)) {
      return "whitespace";
    }
    if (Character.isISOControl(c)) {
      return String.format("control character U+%04X", (int) c);
    }
    return "'" + c + "'";
  }
}
