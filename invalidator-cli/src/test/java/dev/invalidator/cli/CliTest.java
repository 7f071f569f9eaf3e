package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.testing.ConsoleCapture;
import org.junit.jupiter.api.Test;

/** The distribution's command line: the daemon's commands plus demo and bench. */
class CliTest {
  private static ConsoleCapture.Result cli(String... args) {
    return ConsoleCapture.run(Main::execute, args);
  }

  @Test
  void everyCommandHasHelp() {
    for (String cmd :
        new String[] {
          "migrate", "run", "status", "demo", "flush", "dlq", "replay", "verify", "bench"
        }) {
      ConsoleCapture.Result r = cli(cmd, "--help");
      assertThat(r.exit()).as(cmd).isZero();
      assertThat(r.out()).as(cmd).contains("Usage: invalidator " + cmd);
    }
    assertThat(cli("--help").out()).contains("migrate", "run", "status", "demo", "bench");
  }

  @Test
  void wrongOptionValueIsRefusedNamingTheOptionNotAVariable() {
    ConsoleCapture.Result demo = cli("demo", "--duration", "forty");
    assertThat(demo.exit()).isEqualTo(2);
    assertThat(demo.err())
        .contains("--duration: 'forty' is not a duration")
        .doesNotContain("INVALIDATOR_--")
        .doesNotContain("configuration:");
  }

  @Test
  void negativeControlFractionOutOfRangeIsRefused() {
    ConsoleCapture.Result demo = cli("demo", "--drop-invalidations", "1.5");
    assertThat(demo.exit()).isEqualTo(2);
    assertThat(demo.err()).contains("--drop-invalidations must be in 0..1");
  }
}
