package dev.invalidator.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The daemon processes ({@code invalidator run}) a benchmark starts, and the guarantee that none
 * outlives it: every process started here is registered, and a shutdown hook (installed with the
 * first one) stops those still alive when the bench's JVM exits for any reason a hook sees: the end
 * of the run, an exception, Ctrl-C or SIGTERM. A stop is a SIGTERM (the daemon finishes its batches
 * in flight), then, after {@link #GRACE}, a SIGKILL. Only a SIGKILL of the bench itself leaves them
 * running, as it leaves every child.
 */
final class DaemonProcesses {
  /** The daemon's main class; it is on the class path when the bench runs from the CLI jar. */
  static final String DAEMON_MAIN = "dev.invalidator.server.Main";

  /** How long a stopping daemon may take to finish its batches before it is killed. */
  static final long GRACE_SECONDS = 20;

  private static final Set<Process> running = ConcurrentHashMap.newKeySet();
  private static boolean hookInstalled;

  private DaemonProcesses() {}

  /** Fails with a clear message when the daemon's classes are not on this class path. */
  static void requireDaemonOnClassPath(String scenario) {
    try {
      Class.forName(DAEMON_MAIN, false, DaemonProcesses.class.getClassLoader());
    } catch (ClassNotFoundException ex) {
      throw new IllegalStateException(
          "the "
              + scenario
              + " scenario starts the daemon ("
              + DAEMON_MAIN
              + "), which is not on this class path: run it from the invalidator CLI");
    }
  }

  /** Starts {@code pb} and registers the process for the exit hook. */
  static synchronized Process start(ProcessBuilder pb) throws IOException {
    if (!hookInstalled) {
      Runtime.getRuntime()
          .addShutdownHook(new Thread(DaemonProcesses::stopAll, "bench-stop-daemons"));
      hookInstalled = true;
    }
    Process p = pb.start();
    running.add(p);
    return p;
  }

  /**
   * Starts {@code java <DaemonJvm options> -cp <this class path> dev.invalidator.server.Main
   * <args>} with the environment cleaned of {@code INVALIDATOR_*} and {@code OTEL_*} variables
   * (except the log level) plus {@code env}, its output to {@code logFile}. Does not wait.
   */
  static Process startDaemon(List<String> args, Map<String, String> env, Path logFile)
      throws IOException {
    String java =
        ProcessHandle.current()
            .info()
            .command()
            .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.addAll(DaemonJvm.benchDaemonOptions(System.getenv()));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(DAEMON_MAIN);
    cmd.addAll(args);
    Path parent = logFile.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.to(logFile.toFile()));
    pb.environment()
        .keySet()
        .removeIf(
            k ->
                (k.startsWith("INVALIDATOR_") && !k.equals("INVALIDATOR_LOG_LEVEL"))
                    || k.startsWith("OTEL_"));
    pb.environment().putAll(env);
    return start(pb);
  }

  /**
   * Waits until every daemon logged {@code invalidator running}; fails naming the log of one that
   * exited or did not get there within {@code seconds}.
   */
  static void awaitReady(List<Process> processes, List<Path> logs, long seconds)
      throws IOException, InterruptedException {
    // Counted in polls of 100 ms, not on the clock: a bench stopped and continued as a whole
    // (SIGSTOP/SIGCONT, a suspended laptop) does not time out for the time it did not run.
    long polls = seconds * 10;
    boolean[] ready = new boolean[processes.size()];
    int left = processes.size();
    while (left > 0) {
      for (int i = 0; i < processes.size(); i++) {
        if (ready[i]) {
          continue;
        }
        if (Files.readString(logs.get(i), StandardCharsets.UTF_8).contains("invalidator running")) {
          ready[i] = true;
          left--;
        } else if (!processes.get(i).isAlive()) {
          throw new IllegalStateException(
              "a daemon exited with "
                  + processes.get(i).exitValue()
                  + " during start-up; see "
                  + logs.get(i)
                  + ", which ends with:\n"
                  + tail(logs.get(i), 5));
        }
      }
      if (left > 0) {
        if (polls-- <= 0) {
          throw new IllegalStateException(
              "a daemon did not start within " + seconds + " s; see " + logs);
        }
        Thread.sleep(100);
      }
    }
  }

  /** The last {@code lines} lines of {@code log}. */
  static String tail(Path log, int lines) throws IOException {
    List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
    return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
  }

  /** Stops the processes (SIGTERM, then SIGKILL after the grace period), all at once. */
  static void stop(List<Process> processes, PrintStream out) {
    for (Process p : processes) {
      p.destroy();
    }
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(GRACE_SECONDS);
    for (Process p : processes) {
      try {
        long left = until - System.nanoTime();
        if (!p.waitFor(Math.max(0, left), TimeUnit.NANOSECONDS)) {
          if (out != null) {
            out.printf("  daemon %d did not stop within %d s: killed%n", p.pid(), GRACE_SECONDS);
          }
          p.destroyForcibly();
          p.waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException ex) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
      running.remove(p);
    }
  }

  /** Stops every registered daemon still alive (the exit hook; idempotent). */
  static void stopAll() {
    List<Process> alive = new ArrayList<>();
    for (Process p : running) {
      if (p.isAlive()) {
        alive.add(p);
      }
    }
    stop(alive, null);
    running.clear();
  }
}
