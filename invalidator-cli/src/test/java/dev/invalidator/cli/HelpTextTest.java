package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.testing.ConsoleCapture;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Every command's help says whole sentences. Picocli prints each element of a description on its
 * own line(s), wrapping it at the usage width itself, and lists a subcommand under its parent by
 * its first element alone: an element that stops mid-sentence (a description hand-wrapped into
 * several elements) shows as a description cut off in the command list and as ragged lines in the
 * command's own help.
 */
class HelpTextTest {
  /** A whole sentence or paragraph ends so (a trailing parenthesis or quote closes one). */
  private static final Pattern ENDS_A_SENTENCE = Pattern.compile(".*[.!?:][)\"']?$");

  @Test
  void everyDescriptionElementIsAWholeSentence() {
    List<String> cut = new ArrayList<>();
    for (CommandLine cl : commands(Main.commandLine())) {
      CommandSpec spec = cl.getCommandSpec();
      check(cut, spec.qualifiedName(), spec.usageMessage().header());
      check(cut, spec.qualifiedName(), spec.usageMessage().description());
      for (ArgSpec arg : spec.args()) {
        String name =
            arg instanceof CommandLine.Model.OptionSpec o ? o.longestName() : arg.paramLabel();
        check(cut, spec.qualifiedName() + " " + name, arg.description());
      }
    }
    assertThat(cut).as("description elements that stop mid-sentence").isEmpty();
  }

  @Test
  void everyCommandListShowsItsSubcommandsWholeFirstSentence() {
    for (CommandLine cl : commands(Main.commandLine())) {
      if (cl.getSubcommands().isEmpty()) {
        continue;
      }
      List<String> args = new ArrayList<>(List.of(cl.getCommandSpec().qualifiedName().split(" ")));
      args.remove(0); // the program's name
      args.add("--help");
      ConsoleCapture.Result r = ConsoleCapture.run(Main::execute, args.toArray(String[]::new));
      assertThat(r.exit()).as(String.join(" ", args)).isZero();
      String usage = r.out().replaceAll("\\s+", "");
      for (CommandLine sub : cl.getSubcommands().values()) {
        // the list shows the header when there is one (picocli's own help command), else the
        // description's first element
        CommandLine.Model.UsageMessageSpec u = sub.getCommandSpec().usageMessage();
        String[] summary = u.header().length > 0 ? u.header() : u.description();
        assertThat(summary).as(sub.getCommandSpec().qualifiedName()).isNotEmpty();
        assertThat(usage)
            .as("%s --help lists %s", String.join(" ", args), sub.getCommandName())
            .contains(String.format(summary[0]).replaceAll("\\s+", ""));
      }
    }
  }

  private static void check(List<String> cut, String where, String[] description) {
    for (String line : description) {
      String text = String.format(line).strip();
      if (!ENDS_A_SENTENCE.matcher(text).matches()) {
        cut.add(where + ": \"" + text + "\"");
      }
    }
  }

  private static List<CommandLine> commands(CommandLine root) {
    List<CommandLine> all = new ArrayList<>();
    all.add(root);
    for (CommandLine sub : root.getSubcommands().values()) {
      if (!all.contains(sub)) {
        all.addAll(commands(sub));
      }
    }
    return all;
  }
}
