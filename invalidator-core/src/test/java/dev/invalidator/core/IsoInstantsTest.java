package dev.invalidator.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.DateTimeException;
import java.time.Instant;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class IsoInstantsTest {
  @Test
  void formatsExactlyLikeInstantToStringAndParsesBack() {
    SplittableRandom random = new SplittableRandom(42);
    for (int i = 0; i < 200_000; i++) {
      long seconds = random.nextLong(-62_167_219_200L - 1_000_000L, 253_402_300_799L + 1_000_000L);
      int nano =
          switch (i % 4) {
            case 0 -> 0;
            case 1 -> random.nextInt(1000) * 1_000_000;
            case 2 -> random.nextInt(1_000_000) * 1_000;
            default -> random.nextInt(1_000_000_000);
          };
      Instant t = Instant.ofEpochSecond(seconds, nano);
      String text = IsoInstants.format(t);
      assertThat(text).isEqualTo(t.toString());
      assertThat(IsoInstants.parse(text)).isEqualTo(t);
    }
  }

  @Test
  void acceptsAndRefusesWhatInstantParseDoes() {
    String[] texts = {
      "2026-12-03T20:33:03Z",
      "2026-12-03T20:33:03.1Z",
      "2026-12-03T20:33:03.123456789Z",
      "2024-02-29T00:00:00Z",
      "2026-12-03T23:59:60Z",
      "2026-12-03T20:33:03+01:00",
      "+12026-12-03T20:33:03Z",
      "2026-12-03T24:00:00Z",
      "2026-12-03T20:33:03.Z",
      "2026-12-03t20:33:03z",
    };
    for (String s : texts) {
      assertThat(IsoInstants.parse(s)).as(s).isEqualTo(Instant.parse(s));
    }
    String[] bad = {
      "2026-02-29T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-12-03T20:33:03.1234567890Z",
      "2026-12-03 20:33:03Z",
      "2026-12-03T20:33:0xZ",
      "not a time",
    };
    for (String s : bad) {
      assertThatThrownBy(() -> Instant.parse(s)).as(s).isInstanceOf(DateTimeException.class);
      assertThatThrownBy(() -> IsoInstants.parse(s)).as(s).isInstanceOf(DateTimeException.class);
    }
  }
}
