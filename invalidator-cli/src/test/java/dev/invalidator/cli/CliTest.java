package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The distribution's command line: the daemon's commands plus demo and bench. */
class CliTest {
  private record Result(int exit, String out, String err) {}

  private static Result cli(String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = Main.execute(args);
      return new Result(
          code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  @Test
  void everyCommandHasHelp() {
    for (String cmd :
        new String[] {"migrate", "run", "status", "demo", "flush", "dlq", "replay", "bench"}) {
      Result r = cli(cmd, "--help");
      assertThat(r.exit()).as(cmd).isZero();
      assertThat(r.out()).as(cmd).contains("Usage: invalidator " + cmd);
    }
    assertThat(cli("--help").out()).contains("migrate", "run", "status", "demo", "bench");
  }

  @Test
  void wrongOptionValueIsRefusedNamingTheOptionNotAVariable() {
    Result demo = cli("demo", "--duration", "forty");
    assertThat(demo.exit()).isEqualTo(2);
    assertThat(demo.err())
        .contains("--duration: 'forty' is not a duration")
        .doesNotContain("INVALIDATOR_--")
        .doesNotContain("configuration:");
  }
}
