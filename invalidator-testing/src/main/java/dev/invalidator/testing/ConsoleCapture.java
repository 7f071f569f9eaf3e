package dev.invalidator.testing;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.ToIntFunction;

/** Runs a command line in process, capturing what it prints, as a user would see it. */
public final class ConsoleCapture {
  /** Exit code, standard output and standard error of one run. */
  public record Result(int exit, String out, String err) {}

  private ConsoleCapture() {}

  /** Runs {@code main} (returning an exit code) on {@code args} with stdout and stderr captured. */
  public static synchronized Result run(ToIntFunction<String[]> main, String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = main.applyAsInt(args);
      return new Result(
          code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }
}
