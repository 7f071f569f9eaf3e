package dev.invalidator.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class DurationsTest {
  @Test
  void bareNumberIsSeconds() {
    assertThat(Durations.parse("--duration", "40")).isEqualTo(Duration.ofSeconds(40));
    assertThat(Durations.parse("worker.block", " 0 ")).isEqualTo(Duration.ZERO);
  }

  @Test
  void unitsAndIsoStillParse() {
    assertThat(Durations.parse("x.y", "250ms")).isEqualTo(Duration.ofMillis(250));
    assertThat(Durations.parse("x.y", "5s")).isEqualTo(Duration.ofSeconds(5));
    assertThat(Durations.parse("x.y", "2m")).isEqualTo(Duration.ofMinutes(2));
    assertThat(Durations.parse("x.y", "24h")).isEqualTo(Duration.ofHours(24));
    assertThat(Durations.parse("x.y", "1d")).isEqualTo(Duration.ofDays(1));
    assertThat(Durations.parse("x.y", "PT1M30S")).isEqualTo(Duration.ofSeconds(90));
  }

  @Test
  void optionErrorNamesTheOptionAndNoVariable() {
    assertThatThrownBy(() -> Durations.parse("--duration", "forty"))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith("--duration: 'forty' is not a duration")
        .hasMessageNotContaining("INVALIDATOR_")
        .hasMessageNotContaining("configuration");
  }

  @Test
  void settingErrorNamesTheSettingAndItsVariable() {
    assertThatThrownBy(() -> Durations.parse("worker.block", "soon"))
        .hasMessageStartingWith(
            "configuration: worker.block (env INVALIDATOR_WORKER_BLOCK): 'soon' is not a duration");
  }

  @Test
  void overflowIsRefusedNotThrownAsArithmetic() {
    assertThatThrownBy(() -> Durations.parse("--duration", "999999999999999999d"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("too long");
  }
}
