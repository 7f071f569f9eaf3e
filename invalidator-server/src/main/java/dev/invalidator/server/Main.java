package dev.invalidator.server;

import dev.invalidator.server.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The daemon's command line: {@code migrate}, {@code run}, {@code status}, {@code flush}, {@code
 * dlq}, {@code replay}, {@code verify}. The distribution ({@code invalidator-cli}) adds its tooling
 * ({@code demo}, {@code bench}) to {@link #commandLine()}.
 */
@Command(
    name = "invalidator",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
      "Keeps caches honest: relays transactional-outbox invalidation events through Redis "
          + "Streams to version-gated workers, and measures how stale a read can be."
    },
    subcommands = {
      MigrateCommand.class,
      RunCommand.class,
      StatusCommand.class,
      FlushCommand.class,
      DlqCommand.class,
      ReplayCommand.class,
      CdcCommand.class,
      VerifyCommand.class,
      WorkflowsCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /** Runs the CLI and returns the exit code (used by tests). */
  public static int execute(String... args) {
    return commandLine().execute(args);
  }

  /**
   * The daemon's commands with the error handling every command shares: a configuration error exits
   * 2 with its message, anything else exits 1 with its one-line cause.
   */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(
        (ex, cmd, parseResult) -> {
          if (ex instanceof ConfigException) {
            cmd.getErr().println("invalidator: " + ex.getMessage());
            return 2;
          }
          cmd.getErr().println("invalidator: " + ex);
          org.slf4j.LoggerFactory.getLogger(Main.class).debug("command failed", ex);
          return 1;
        });
    return cl;
  }

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** Version from the jar manifest. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"invalidator " + (v == null ? "development build" : v)};
    }
  }
}
