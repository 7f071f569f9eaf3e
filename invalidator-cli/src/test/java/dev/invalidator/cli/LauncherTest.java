package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.bench.DaemonJvm;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./invalidator} launcher script, run for real with a {@code java} on its path that
 * prints the arguments it was given: the long-running commands get {@link DaemonJvm#OPTIONS} (the
 * options the sustained benchmark starts its daemon with), the others none, and {@code
 * INVALIDATOR_JAVA_OPTS} replaces them.
 */
class LauncherTest {
  @TempDir Path dir;

  private List<String> launch(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    Path script = dir.resolve("invalidator");
    if (!Files.exists(script)) {
      Files.copy(Path.of("..", "invalidator"), script);
      Path jar = dir.resolve("invalidator-cli/target/invalidator.jar");
      Files.createDirectories(jar.getParent());
      Files.createFile(jar); // present and no sources newer: the launcher does not build
      Path bin = Files.createDirectories(dir.resolve("bin"));
      Path java = bin.resolve("java");
      Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
      Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    List<String> cmd = new ArrayList<>(List.of("bash", script.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove("INVALIDATOR_JAVA_OPTS");
    pb.environment().put("PATH", dir.resolve("bin") + ":" + System.getenv("PATH"));
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out.lines().toList();
  }

  private List<String> expected(List<String> options, String... args) {
    List<String> all = new ArrayList<>(options);
    all.add("-jar");
    all.add(dir.resolve("invalidator-cli/target/invalidator.jar").toString());
    all.addAll(List.of(args));
    return all;
  }

  @Test
  void longRunningCommandsStartWithTheDaemonJvmOptions() throws Exception {
    assertThat(launch(Map.of(), "run", "--help"))
        .isEqualTo(expected(DaemonJvm.OPTIONS, "run", "--help"));
    // demo and bench may grow their heap (embedded brokers, in-process benchmarks): no -Xmx.
    List<String> growable = DaemonJvm.OPTIONS.stream().filter(o -> !o.startsWith("-Xmx")).toList();
    for (String command : List.of("demo", "bench")) {
      assertThat(launch(Map.of(), command, "--help"))
          .as(command)
          .isEqualTo(expected(growable, command, "--help"));
    }
  }

  @Test
  void otherCommandsStartWithout() throws Exception {
    assertThat(launch(Map.of(), "status", "--json"))
        .isEqualTo(expected(List.of(), "status", "--json"));
    assertThat(launch(Map.of(), "--help")).isEqualTo(expected(List.of(), "--help"));
  }

  @Test
  void invalidatorJavaOptsReplacesTheDefaults() throws Exception {
    assertThat(launch(Map.of("INVALIDATOR_JAVA_OPTS", "-Xmx64m -Dx=y"), "run"))
        .isEqualTo(expected(List.of("-Xmx64m", "-Dx=y"), "run"));
    assertThat(launch(Map.of("INVALIDATOR_JAVA_OPTS", ""), "run"))
        .isEqualTo(expected(List.of(), "run"));
  }

  /** The sustained benchmark starts its daemon with the options the launcher would give it. */
  @Test
  void theBenchmarksDaemonGetsTheLaunchersOptions() throws Exception {
    for (Map<String, String> env :
        List.of(
            Map.<String, String>of(),
            Map.of("INVALIDATOR_JAVA_OPTS", ""),
            Map.of("INVALIDATOR_JAVA_OPTS", "  -Xmx64m   -Dx=y "))) {
      assertThat(launch(env, "run"))
          .as(env.toString())
          .isEqualTo(expected(DaemonJvm.options(env), "run"));
    }
  }
}
