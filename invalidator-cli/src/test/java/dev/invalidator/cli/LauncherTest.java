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
 * options the sustained benchmark starts its daemon with), the short ones C1 and the serial
 * collector and a class-data-sharing archive (recorded by the first, mapped by the next), and
 * {@code INVALIDATOR_JAVA_OPTS} replaces the options. The archive itself is checked with the real
 * {@code java} on a small jar: recorded, then mapped under {@code -Xshare:on} (which fails instead
 * of falling back), with stdout left to the command.
 */
class LauncherTest {
  private static final List<String> SHORT = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC");
  private static final List<String> LOGS_TO_STDERR =
      List.of("-Xlog:disable", "-Xlog:all=warning:stderr", "-Xlog:cds*=off:stderr");

  @TempDir Path dir;

  private Path jar() {
    return dir.resolve("invalidator-cli/target/invalidator.jar");
  }

  private Path archive() {
    return dir.resolve("invalidator-cli/target/invalidator.jsa");
  }

  private List<String> launch(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    Result r = run(true, env, args);
    assertThat(r.exit()).as(r.out()).isZero();
    return r.out().lines().toList();
  }

  /** The command's exit, its stdout (with the fake java, stderr too) and the real JVM's stderr. */
  private record Result(int exit, String out, String err) {}

  private Result run(boolean fakeJava, Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    Path script = dir.resolve("invalidator");
    if (!Files.exists(script)) {
      Files.copy(Path.of("..", "invalidator"), script);
      Path jar = dir.resolve("invalidator-cli/target/invalidator.jar");
      Files.createDirectories(jar.getParent());
      if (fakeJava) {
        Files.createFile(jar); // present and no sources newer: the launcher does not build
      }
      Path bin = Files.createDirectories(dir.resolve("bin"));
      Path java = bin.resolve("java");
      Files.writeString(java, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
      Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    List<String> cmd = new ArrayList<>(List.of("bash", script.toString()));
    cmd.addAll(List.of(args));
    // The real JVM's stderr is not the command's output: keep the two apart there.
    Path err = Files.createTempFile(dir, "stderr", ".txt");
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .redirectErrorStream(fakeJava)
            .redirectError(
                fakeJava ? ProcessBuilder.Redirect.PIPE : ProcessBuilder.Redirect.to(err.toFile()));
    pb.environment().remove("INVALIDATOR_JAVA_OPTS");
    pb.environment().remove("INVALIDATOR_CDS");
    String path = System.getenv("PATH");
    if (fakeJava) {
      path = dir.resolve("bin") + ":" + path;
    } else {
      path = Path.of(System.getProperty("java.home"), "bin") + ":" + path;
    }
    pb.environment().put("PATH", path);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Result(p.exitValue(), out, Files.readString(err));
  }

  private List<String> expected(List<String> options, String... args) {
    List<String> all = new ArrayList<>(options);
    all.add("-jar");
    all.add(jar().toString());
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
  void shortCommandsRecordAnArchiveFirstAndMapItAfter() throws Exception {
    List<String> first = launch(Map.of(), "status", "--json");
    String recording = first.get(0);
    assertThat(recording).startsWith("-XX:ArchiveClassesAtExit=" + archive() + ".");
    assertThat(first.subList(1, first.size()))
        .isEqualTo(expected(concat(LOGS_TO_STDERR, SHORT), "status", "--json"));
    assertThat(archive()).as("not kept: this java wrote none").doesNotExist();

    recorded();
    assertThat(launch(Map.of(), "status", "--json"))
        .isEqualTo(
            expected(
                concat(List.of("-XX:SharedArchiveFile=" + archive()), LOGS_TO_STDERR, SHORT),
                "status",
                "--json"));
    assertThat(launch(Map.of(), "--help"))
        .isEqualTo(
            expected(
                concat(List.of("-XX:SharedArchiveFile=" + archive()), LOGS_TO_STDERR, SHORT),
                "--help"));

    // A newer jar (rebuilt) makes the archive stale: it is recorded again.
    Files.setLastModifiedTime(
        jar(),
        java.nio.file.attribute.FileTime.fromMillis(
            Files.getLastModifiedTime(archive()).toMillis() + 1_000));
    assertThat(launch(Map.of(), "dlq", "list").get(0)).startsWith("-XX:ArchiveClassesAtExit=");
  }

  @Test
  void verifyAndReplayKeepC2AndCdsCanBeTurnedOff() throws Exception {
    launch(Map.of(), "--help"); // sets up the launcher and its jar
    recorded();
    assertThat(launch(Map.of(), "verify"))
        .isEqualTo(
            expected(
                concat(List.of("-XX:SharedArchiveFile=" + archive()), LOGS_TO_STDERR), "verify"));
    assertThat(launch(Map.of("INVALIDATOR_CDS", "0"), "status"))
        .isEqualTo(expected(SHORT, "status"));
    assertThat(launch(Map.of("INVALIDATOR_CDS", "0", "INVALIDATOR_JAVA_OPTS", ""), "status"))
        .isEqualTo(expected(List.of(), "status"));
  }

  /**
   * The real JVM: the archive is recorded, then mapped; stdout is only the command's, and stderr
   * holds none of the archive's own warnings, though the jar has a class the archive cannot hold
   * (class file version 49, like picocli's: the JVM warns "Pre JDK 6 class not supported by CDS"
   * when its log is on, checked by running this test against the launcher before the change).
   */
  @Test
  void theRealJvmRecordsTheArchiveAndMapsIt() throws Exception {
    writeJar(jar());

    Result first = run(false, Map.of(), "status", "--json");
    assertThat(first.exit()).isZero();
    assertThat(first.out()).isEqualTo("hello status --json\n");
    assertThat(first.err()).doesNotContain("cds");
    assertThat(archive()).exists();
    assertThat(Files.size(archive())).isPositive();

    // -Xshare:on fails the start instead of running without the archive when it cannot map it.
    Map<String, String> strict =
        Map.of("INVALIDATOR_JAVA_OPTS", "-Xshare:on -XX:TieredStopAtLevel=1 -XX:+UseSerialGC");
    Result mapped = run(false, strict, "status");
    assertThat(mapped.exit()).as(mapped.out()).isZero();
    assertThat(mapped.out()).isEqualTo("hello status\n");

    // Negative control: an archive the JVM cannot map does fail under -Xshare:on.
    Files.writeString(archive(), "not an archive");
    assertThat(run(false, strict, "status").exit()).isNotZero();
  }

  /** An archive, newer than the jar (as one recorded after the jar was built). */
  private void recorded() throws IOException {
    Files.writeString(archive(), "recorded");
    Files.setLastModifiedTime(
        archive(),
        java.nio.file.attribute.FileTime.fromMillis(
            Files.getLastModifiedTime(jar()).toMillis() + 1_000));
  }

  /**
   * A jar whose main class prints "hello" (taken from class {@code Old}, whose class file is
   * version 49, Java 5) and its arguments.
   */
  private static void writeJar(Path jar) throws IOException {
    Files.createDirectories(jar.getParent());
    String source =
        "public class Hello { public static void main(String[] a) {"
            + " System.out.println(Old.HELLO + String.join(\" \", a)); } }";
    Path src = Files.createTempDirectory(jar.getParent(), "src");
    Files.writeString(src.resolve("Hello.java"), source);
    Files.writeString(
        src.resolve("Old.java"),
        "public class Old { public static final String HELLO = hello();"
            + " static String hello() { return \"hello \"; } }");
    int compiled =
        javax.tools.ToolProvider.getSystemJavaCompiler()
            .run(
                null,
                null,
                null,
                "--release",
                "8",
                "-d",
                src.toString(),
                src.resolve("Hello.java").toString(),
                src.resolve("Old.java").toString());
    assertThat(compiled).isZero();
    // Java 5's class file version: Old has no branch, so no stack map frame needs version 50.
    Path old = src.resolve("Old.class");
    byte[] bytes = Files.readAllBytes(old);
    bytes[6] = 0;
    bytes[7] = 49;
    Files.write(old, bytes);
    java.util.jar.Manifest manifest = new java.util.jar.Manifest();
    manifest.getMainAttributes().put(java.util.jar.Attributes.Name.MANIFEST_VERSION, "1.0");
    manifest.getMainAttributes().put(java.util.jar.Attributes.Name.MAIN_CLASS, "Hello");
    try (var out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar), manifest)) {
      for (String name : List.of("Hello.class", "Old.class")) {
        out.putNextEntry(new java.util.jar.JarEntry(name));
        out.write(Files.readAllBytes(src.resolve(name)));
        out.closeEntry();
      }
    }
  }

  @SafeVarargs
  private static List<String> concat(List<String>... lists) {
    List<String> all = new ArrayList<>();
    for (List<String> l : lists) {
      all.addAll(l);
    }
    return all;
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
