package dev.invalidator.core;

import java.time.Instant;
import java.time.LocalDate;

/**
 * {@link Instant#toString()} and {@link Instant#parse(CharSequence)} for the instants events carry
 * ({@code created_at}), without the general formatter: both were a visible share of the relay's and
 * the workers' CPU per event (JFR). The text is the same as {@link Instant#toString()} (UTC,
 * fractional seconds in groups of three digits, none when zero); anything outside the common shape
 * (years before 0 or after 9999, offsets, leap seconds, malformed text) goes to the JDK's own
 * methods, which decide.
 */
final class IsoInstants {
  private IsoInstants() {}

  static String format(Instant t) {
    long seconds = t.getEpochSecond();
    // 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z
    if (seconds < -62_167_219_200L || seconds > 253_402_300_799L) {
      return t.toString();
    }
    long day = Math.floorDiv(seconds, 86_400L);
    int secondOfDay = (int) Math.floorMod(seconds, 86_400L);
    LocalDate date = LocalDate.ofEpochDay(day);
    int nano = t.getNano();
    StringBuilder b = new StringBuilder(30);
    pad(b, date.getYear(), 4).append('-');
    pad(b, date.getMonthValue(), 2).append('-');
    pad(b, date.getDayOfMonth(), 2).append('T');
    pad(b, secondOfDay / 3600, 2).append(':');
    pad(b, secondOfDay / 60 % 60, 2).append(':');
    pad(b, secondOfDay % 60, 2);
    if (nano != 0) {
      b.append('.');
      if (nano % 1_000_000 == 0) {
        pad(b, nano / 1_000_000, 3);
      } else if (nano % 1_000 == 0) {
        pad(b, nano / 1_000, 6);
      } else {
        pad(b, nano, 9);
      }
    }
    return b.append('Z').toString();
  }

  static Instant parse(String s) {
    Instant fast = parseCommon(s);
    return fast != null ? fast : Instant.parse(s);
  }

  /** {@code yyyy-MM-ddTHH:mm:ss[.f{1,9}]Z} with every field in range, or null. */
  private static Instant parseCommon(String s) {
    int n = s.length();
    if (n < 20 || n > 30 || s.charAt(n - 1) != 'Z') {
      return null;
    }
    if (s.charAt(4) != '-'
        || s.charAt(7) != '-'
        || s.charAt(10) != 'T'
        || s.charAt(13) != ':'
        || s.charAt(16) != ':') {
      return null;
    }
    int year = digits(s, 0, 4);
    int month = digits(s, 5, 2);
    int day = digits(s, 8, 2);
    int hour = digits(s, 11, 2);
    int minute = digits(s, 14, 2);
    int second = digits(s, 17, 2);
    if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) {
      return null;
    }
    if (minute < 0 || minute > 59 || second < 0 || second > 59) {
      return null;
    }
    int nano = 0;
    if (n > 20) {
      int fractionDigits = n - 21;
      if (s.charAt(19) != '.' || fractionDigits < 1 || fractionDigits > 9) {
        return null;
      }
      int fraction = digits(s, 20, fractionDigits);
      if (fraction < 0) {
        return null;
      }
      nano = fraction;
      for (int i = fractionDigits; i < 9; i++) {
        nano *= 10;
      }
    }
    LocalDate date;
    if (day > 28) {
      LocalDate first = LocalDate.of(year, month, 1);
      if (day > first.lengthOfMonth()) {
        return null;
      }
      date = first.withDayOfMonth(day);
    } else {
      date = LocalDate.of(year, month, day);
    }
    long epochSecond = date.toEpochDay() * 86_400L + hour * 3600L + minute * 60L + second;
    return Instant.ofEpochSecond(epochSecond, nano);
  }

  /** The decimal number of {@code count} ASCII digits at {@code from}, or -1. */
  private static int digits(String s, int from, int count) {
    int v = 0;
    for (int i = from; i < from + count; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  private static StringBuilder pad(StringBuilder b, int value, int width) {
    String digits = Integer.toString(value);
    for (int i = digits.length(); i < width; i++) {
      b.append('0');
    }
    return b.append(digits);
  }
}
