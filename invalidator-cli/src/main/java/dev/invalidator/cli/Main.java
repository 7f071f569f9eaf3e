package dev.invalidator.cli;

import dev.invalidator.bench.BenchCommand;
import picocli.CommandLine;

/**
 * The {@code invalidator} command of the distribution: the daemon's commands ({@link
 * dev.invalidator.server.Main}) and the tooling a deployed daemon does not carry: {@code demo}
 * (embedded servers when no URLs are given) and {@code bench}.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the CLI and returns the exit code (used by tests). */
  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  /** The daemon's command line with {@code demo} and {@code bench} added. */
  public static CommandLine commandLine() {
    return dev.invalidator.server.Main.commandLine()
        .addSubcommand(new DemoCommand())
        .addSubcommand(new BenchCommand());
  }
}
