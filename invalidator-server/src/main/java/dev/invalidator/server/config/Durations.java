package dev.invalidator.server.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the duration forms used in configuration files, environment variables and command-line
 * options: {@code 250ms}, {@code 5s}, {@code 2m}, {@code 24h}, {@code 1d}, a bare number of seconds
 * ({@code 40}), or ISO-8601 ({@code PT1M}).
 */
public final class Durations {
  private static final Pattern SIMPLE = Pattern.compile("(\\d{1,18})\\s*(ms|s|m|h|d)?");

  private Durations() {}

  /**
   * Parses {@code text}; {@code setting} is the configuration key ({@code worker.block}) or the
   * command-line option ({@code --duration}) it came from, named by the error.
   */
  public static Duration parse(String setting, String text) {
    String s = text.trim();
    Matcher m = SIMPLE.matcher(s);
    if (m.matches()) {
      try {
        return simple(Long.parseLong(m.group(1)), m.group(2));
      } catch (ArithmeticException e) {
        throw new ConfigException(setting, "'" + text + "' is too long");
      }
    }
    try {
      return Duration.parse(s);
    } catch (RuntimeException e) {
      throw new ConfigException(
          setting,
          "'" + text + "' is not a duration (examples: 250ms, 5s, 2m, 24h, 40 for seconds, PT1M)");
    }
  }

  private static Duration simple(long n, String unit) {
    if (unit == null) {
      return Duration.ofSeconds(n);
    }
    switch (unit) {
      case "ms":
        return Duration.ofMillis(n);
      case "s":
        return Duration.ofSeconds(n);
      case "m":
        return Duration.ofMinutes(n);
      case "h":
        return Duration.ofHours(n);
      default:
        return Duration.ofDays(n);
    }
  }

  public static String format(Duration d) {
    long ms = d.toMillis();
    if (ms % 86_400_000 == 0 && ms > 0) {
      return ms / 86_400_000 + "d";
    }
    if (ms % 3_600_000 == 0 && ms > 0) {
      return ms / 3_600_000 + "h";
    }
    if (ms % 60_000 == 0 && ms > 0) {
      return ms / 60_000 + "m";
    }
    if (ms % 1000 == 0) {
      return ms / 1000 + "s";
    }
    return ms + "ms";
  }
}
