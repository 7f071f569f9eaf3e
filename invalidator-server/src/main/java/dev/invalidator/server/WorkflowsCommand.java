package dev.invalidator.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.zaxxer.hikari.HikariDataSource;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.workflows.WorkflowAdmin;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code invalidator workflows list|show|retry|cancel}: the durable workflows in the engine's
 * tables. Needs only PostgreSQL; a retried workflow runs in a daemon's engine.
 */
@Command(
    name = "workflows",
    mixinStandardHelpOptions = true,
    description = "Inspect, retry and cancel durable workflows (see workflows.definitions).",
    subcommands = {
      WorkflowsCommand.List.class,
      WorkflowsCommand.Show.class,
      WorkflowsCommand.Retry.class,
      WorkflowsCommand.Cancel.class
    })
final class WorkflowsCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  abstract static class Base implements Callable<Integer> {
    @Mixin ConnectionOptions connection;
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }

    @Override
    public Integer call() throws Exception {
      InvalidatorConfig cfg = connection.load();
      try (HikariDataSource ds = Servers.dataSource(cfg, "invalidator-cli", 2);
          WorkflowAdmin admin =
              new WorkflowAdmin(ds, cfg.workflows().schema(), Clock.systemUTC())) {
        return run(admin);
      } catch (IllegalStateException | IllegalArgumentException e) {
        spec.commandLine().getErr().println("error: " + e.getMessage());
        return 1;
      }
    }

    abstract int run(WorkflowAdmin admin) throws Exception;

    static ObjectMapper mapper() {
      return new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
    }

    static Map<String, Object> asMap(WorkflowAdmin.Summary s) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("id", s.id());
      m.put("workflow", s.workflow());
      m.put("tenant", s.tenant());
      m.put("event_type", s.eventType());
      m.put("state", s.state());
      m.put("created_at", String.valueOf(s.createdAt()));
      m.put("updated_at", String.valueOf(s.updatedAt()));
      m.put("error", s.error());
      return m;
    }
  }

  @Command(
      name = "list",
      mixinStandardHelpOptions = true,
      description = "List workflows, newest first.")
  static final class List extends Base {
    @Option(names = "--tenant", description = "Only workflows of this tenant.")
    String tenant;

    @Option(names = "--workflow", description = "Only workflows of this definition.")
    String workflow;

    @Option(
        names = "--state",
        description =
            "Only workflows in this state: PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED,"
                + " MAX_RECOVERY_ATTEMPTS_EXCEEDED.")
    String state;

    @Option(
        names = "--older-than",
        paramLabel = "DURATION",
        description = "Only workflows started at least this long ago, e.g. 10m.")
    String olderThan;

    @Option(
        names = "--newer-than",
        paramLabel = "DURATION",
        description = "Only workflows started at most this long ago, e.g. 1h.")
    String newerThan;

    @Option(names = "--limit", defaultValue = "100", description = "At most this many.")
    int limit;

    @Override
    int run(WorkflowAdmin admin) throws Exception {
      Duration older =
          olderThan == null ? null : ConfigLoader.parseDuration("--older-than", olderThan);
      Duration newer =
          newerThan == null ? null : ConfigLoader.parseDuration("--newer-than", newerThan);
      var found =
          admin.list(new WorkflowAdmin.Filter(tenant, workflow, state, older, newer, limit));
      if (json) {
        out().println(mapper().writeValueAsString(found.stream().map(Base::asMap).toList()));
        return 0;
      }
      out().printf("%-64s %-16s %-10s %-24s %s%n", "ID", "TENANT", "STATE", "CREATED", "ERROR");
      for (WorkflowAdmin.Summary s : found) {
        String err = s.error() == null ? "" : s.error().replaceAll("\\s+", " ");
        out()
            .printf(
                "%-64s %-16s %-10s %-24s %s%n",
                s.id(),
                s.tenant(),
                s.state(),
                s.createdAt(),
                err.length() > 80 ? err.substring(0, 77) + "..." : err);
      }
      out().printf("%d workflow(s)%n", found.size());
      return 0;
    }
  }

  @Command(
      name = "show",
      mixinStandardHelpOptions = true,
      description = "Show a workflow and its steps with their durations.")
  static final class Show extends Base {
    @Parameters(paramLabel = "ID", description = "The workflow id.")
    String id;

    @Override
    int run(WorkflowAdmin admin) throws Exception {
      var found = admin.get(id);
      if (found.isEmpty()) {
        spec.commandLine().getErr().println("error: no workflow with id " + id);
        return 1;
      }
      var steps = admin.steps(id);
      if (json) {
        Map<String, Object> m = asMap(found.get());
        m.put(
            "steps",
            steps.stream()
                .map(
                    s -> {
                      Map<String, Object> sm = new LinkedHashMap<>();
                      sm.put("index", s.index());
                      sm.put("name", s.name());
                      sm.put("started_at", String.valueOf(s.startedAt()));
                      sm.put("completed_at", String.valueOf(s.completedAt()));
                      sm.put("duration_ms", s.duration() == null ? null : s.duration().toMillis());
                      sm.put("error", s.error());
                      return sm;
                    })
                .toList());
        out().println(mapper().writeValueAsString(m));
        return 0;
      }
      WorkflowAdmin.Summary s = found.get();
      out().printf("id:         %s%n", s.id());
      out().printf("workflow:   %s%n", s.workflow());
      out().printf("tenant:     %s%n", s.tenant());
      out().printf("event type: %s%n", s.eventType());
      out().printf("state:      %s%n", s.state());
      out().printf("created:    %s%n", s.createdAt());
      out().printf("updated:    %s%n", s.updatedAt());
      if (s.error() != null) {
        out().printf("error:      %s%n", s.error());
      }
      out().printf("%n%-5s %-24s %10s  %s%n", "#", "STEP", "MS", "ERROR");
      for (WorkflowAdmin.StepRecord st : steps) {
        out()
            .printf(
                "%-5d %-24s %10s  %s%n",
                st.index(),
                st.name(),
                st.duration() == null ? "-" : Long.toString(st.duration().toMillis()),
                st.error() == null ? "" : st.error());
      }
      return 0;
    }
  }

  @Command(
      name = "retry",
      mixinStandardHelpOptions = true,
      description =
          "Run a stopped workflow again: a failed one is forked at its failed step (id"
              + " <id>:retry-<n>), a cancelled one resumes where it stopped.")
  static final class Retry extends Base {
    @Parameters(paramLabel = "ID", description = "The workflow id.")
    String id;

    @Override
    int run(WorkflowAdmin admin) {
      String now = admin.retry(id);
      out().printf("workflow %s runs again as %s%n", id, now);
      return 0;
    }
  }

  @Command(
      name = "cancel",
      mixinStandardHelpOptions = true,
      description = "Cancel an unfinished workflow: it stops before its next step.")
  static final class Cancel extends Base {
    @Parameters(paramLabel = "ID", description = "The workflow id.")
    String id;

    @Override
    int run(WorkflowAdmin admin) {
      admin.cancel(id);
      out().printf("workflow %s cancelled%n", id);
      return 0;
    }
  }
}
