package dev.invalidator.server.fault;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A private redis-server and a private PostgreSQL, started from the machine's binaries on their own
 * ports, so the fault suite may kill and restart them without disturbing the shared servers.
 */
final class PrivateServers {
  private PrivateServers() {}

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static void awaitPort(int port, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        if (s.isConnected()) {
          return;
        }
      } catch (IOException ex) {
        Thread.sleep(50); // polling a port that is coming up, not a correctness wait
      }
    }
    throw new IllegalStateException("port " + port + " did not open within " + timeout);
  }

  static int run(List<String> cmd, Path log) throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("timed out: " + cmd);
    }
    return p.exitValue();
  }

  /** redis-server without persistence: a restart loses everything, like a failover gone bad. */
  static final class Redis implements AutoCloseable {
    final int port;
    final Path dir;
    private final Path binary;
    private Process process;
    int restarts;

    Redis(Path dir, Path binary) throws IOException, InterruptedException {
      this.port = freePort();
      this.dir = dir;
      this.binary = binary;
      start();
    }

    String url() {
      return "redis://127.0.0.1:" + port;
    }

    private void start() throws IOException, InterruptedException {
      process =
          new ProcessBuilder(
                  binary.toString(),
                  "--port",
                  Integer.toString(port),
                  "--bind",
                  "127.0.0.1",
                  "--save",
                  "",
                  "--appendonly",
                  "no",
                  "--dir",
                  dir.toString())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.log").toFile()))
              .start();
      awaitPort(port, Duration.ofSeconds(20));
    }

    /** SIGKILL and start again: every key is gone. */
    void restart() throws IOException, InterruptedException {
      process.destroyForcibly().waitFor();
      restarts++;
      start();
    }

    @Override
    public void close() {
      process.destroyForcibly();
    }
  }

  /** PostgreSQL from the machine's binaries; restart is an immediate (crash) shutdown. */
  static final class Postgres implements AutoCloseable {
    final int port;
    final Path dir;
    private final List<String> asUser;
    private final String pgCtl;
    private final String serverOptions;
    int restarts;

    /** With the given binaries: Debian keeps initdb and pg_ctl off the PATH. */
    Postgres(Path base, Path initdb, Path pgCtl) throws IOException, InterruptedException {
      this(base, initdb, pgCtl, "");
    }

    /**
     * With server settings added to the command line, {@code -c name=value ...} (for example {@code
     * -c wal_level=logical} for the CDC relay).
     */
    Postgres(Path base, Path initdb, Path pgCtl, String serverOptions)
        throws IOException, InterruptedException {
      this.serverOptions = serverOptions;
      this.port = freePort();
      this.pgCtl = pgCtl.toString();
      this.dir = base.resolve("pgdata");
      boolean root = "root".equals(System.getProperty("user.name"));
      asUser = root ? List.of("runuser", "-u", "postgres", "--") : List.of();
      Files.createDirectories(base);
      if (root) {
        run(List.of("chown", "-R", "postgres", base.toString()), base.resolve("setup.log"));
      }
      int rc =
          run(
              cmd(initdb.toString(), "-D", dir.toString(), "-U", "postgres", "-A", "trust"),
              base.resolve("initdb.log"));
      if (rc != 0) {
        throw new IllegalStateException("initdb failed, see " + base.resolve("initdb.log"));
      }
      start();
    }

    private List<String> cmd(String... args) {
      List<String> out = new ArrayList<>(asUser);
      out.addAll(List.of(args));
      return out;
    }

    String jdbcUrl() {
      return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres";
    }

    private void start() throws IOException, InterruptedException {
      int rc =
          run(
              cmd(
                  pgCtl,
                  "-D",
                  dir.toString(),
                  "-w",
                  "-l",
                  dir.resolveSibling("pg.log").toString(),
                  "-o",
                  "-p "
                      + port
                      + " -k "
                      + dir
                      + " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100 "
                      + serverOptions,
                  "start"),
              dir.resolveSibling("pgctl.log"));
      if (rc != 0) {
        throw new IllegalStateException("pg_ctl start failed, see " + dir.resolveSibling("pg.log"));
      }
    }

    /** Immediate shutdown (no checkpoint, crash recovery on start) and start again. */
    void restart() throws IOException, InterruptedException {
      run(
          cmd(pgCtl, "-D", dir.toString(), "-m", "immediate", "-w", "stop"),
          dir.resolveSibling("pgctl.log"));
      restarts++;
      start();
    }

    @Override
    public void close() throws IOException {
      try {
        run(
            cmd(pgCtl, "-D", dir.toString(), "-m", "immediate", "-w", "stop"),
            dir.resolveSibling("pgctl.log"));
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
