package dev.invalidator.http;

/** How credentials appear in {@code toString} and logs: never, only whether one is set. */
final class Secrets {
  private Secrets() {}

  static String mask(String secret) {
    return secret == null || secret.isEmpty() ? "<none>" : "****";
  }
}
