package dev.invalidator.server;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds the machine's command-line tools that some tests start (redis-server, openssl, PostgreSQL's
 * initdb and pg_ctl). Without a tool such a test is skipped, except under {@code CI=true}, where it
 * fails: CI ({@code .ci/run}) installs every tool, so a skip there would hide a broken test.
 */
public final class RequiredTools {
  private static final Path DEBIAN_POSTGRES = Path.of("/usr/lib/postgresql");

  private RequiredTools() {}

  /** True under {@code CI=true}. */
  public static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  /** The tool on the {@code PATH}; skips the test (fails it under CI=true) when missing. */
  public static Path require(String tool) {
    return require(tool, onPath(tool));
  }

  /**
   * A PostgreSQL server binary ({@code initdb}, {@code pg_ctl}): on the {@code PATH}, else in
   * {@code pg_config --bindir}, else in the newest {@code /usr/lib/postgresql/<version>/bin} (where
   * Debian puts them, off the {@code PATH}). Skips the test (fails it under CI=true) when missing.
   */
  public static Path requirePostgres(String tool) {
    return require(tool, postgresTool(tool));
  }

  /** Skips the test (fails it under CI=true) unless {@code condition} holds. */
  public static void require(boolean condition, String message) {
    if (!condition) {
      missing(message);
    }
  }

  static Optional<Path> onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
        return Optional.of(Path.of(dir, tool));
      }
    }
    return Optional.empty();
  }

  static Optional<Path> postgresTool(String tool) {
    Optional<Path> found = onPath(tool);
    if (found.isEmpty()) {
      found = pgConfigBindir().map(dir -> dir.resolve(tool)).filter(Files::isExecutable);
    }
    if (found.isEmpty()) {
      found = newestDebianBindir(tool);
    }
    return found;
  }

  private static Optional<Path> pgConfigBindir() {
    Optional<Path> pgConfig = onPath("pg_config");
    if (pgConfig.isEmpty()) {
      return Optional.empty();
    }
    try {
      Process p =
          new ProcessBuilder(pgConfig.get().toString(), "--bindir")
              .redirectError(ProcessBuilder.Redirect.DISCARD)
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0 || out.isEmpty()) {
        p.destroyForcibly();
        return Optional.empty();
      }
      return Optional.of(Path.of(out));
    } catch (IOException ex) {
      return Optional.empty();
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    }
  }

  private static Optional<Path> newestDebianBindir(String tool) {
    if (!Files.isDirectory(DEBIAN_POSTGRES)) {
      return Optional.empty();
    }
    try (Stream<Path> versions = Files.list(DEBIAN_POSTGRES)) {
      List<Path> candidates =
          versions
              .filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)?"))
              .sorted(
                  Comparator.comparingDouble(v -> -Double.parseDouble(v.getFileName().toString())))
              .map(v -> v.resolve("bin").resolve(tool))
              .filter(Files::isExecutable)
              .toList();
      return candidates.stream().findFirst();
    } catch (IOException ex) {
      return Optional.empty();
    }
  }

  private static Path require(String tool, Optional<Path> found) {
    if (found.isEmpty()) {
      missing(tool + " is not installed");
    }
    return found.orElseThrow();
  }

  private static void missing(String message) {
    if (ci()) {
      fail(message + ": required under CI=true (.ci/run installs it)");
    }
    Assumptions.abort(message);
  }
}
