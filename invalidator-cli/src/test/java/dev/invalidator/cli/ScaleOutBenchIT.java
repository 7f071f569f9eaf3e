package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.testing.TestServers;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The smoke test of {@code invalidator bench --quick --scenarios scale-out}: one relay process and
 * 1, then 2 worker processes on Redis Streams and on Kafka (an in-JVM broker), every backlog
 * applied with nothing stale or lost; and no daemon outlives the bench, neither after a normal run
 * nor after an interrupt (Ctrl-C) of the bench alone. It checks that figures exist, never how fast
 * anything is.
 */
class ScaleOutBenchIT {
  @TempDir Path dir;

  @Test
  void quickScaleOutAppliesEveryBacklogOnBothTransportsWithNothingStaleOrLost() throws Exception {
    Path json = dir.resolve("scale.json");
    PrintStream oldOut = System.out;
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    int code;
    try {
      System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
      code =
          Main.execute(
              "bench",
              "--quick",
              "--scenarios",
              "scale-out",
              "--postgres-url",
              TestServers.postgresUrl(),
              "--redis-url",
              TestServers.redisUrl(),
              "--out",
              json.toString());
    } finally {
      System.setOut(oldOut);
    }
    String out = printed.toString(StandardCharsets.UTF_8);
    assertThat(code).as(out).isZero();
    assertThat(out).contains("Scale-out (one relay process, N worker processes)");

    JsonNode scenario = new ObjectMapper().readTree(json.toFile()).path("scenarios").get(0);
    assertThat(scenario.path("id").asText()).isEqualTo("scale-out");
    List<String> seen = new ArrayList<>();
    for (JsonNode p : scenario.path("details").path("points")) {
      seen.add(p.path("transport").asText() + "/" + p.path("workerProcesses").asInt());
      assertThat(p.path("eventsPerSecond").asDouble()).as(p.toString()).isPositive();
      assertThat(p.path("stale").asLong()).as(p.toString()).isZero();
      assertThat(p.path("lost").asLong()).as(p.toString()).isZero();
      assertThat(p.path("consumers").asInt()).isEqualTo(2 * p.path("workerProcesses").asInt());
    }
    assertThat(seen).containsExactly("redis/1", "redis/2", "kafka/1", "kafka/2");
    assertThat(scenario.path("figures")).hasSize(4);
    // Each daemon ran as its own process with its own role, and stopped.
    String relayLog = Files.readString(dir.resolve("scale.daemon.scale-out-kafka-relay.log"), UTF8);
    assertThat(relayLog).contains("invalidator running with role relay", "stopped");
    String workerLog =
        Files.readString(dir.resolve("scale.daemon.scale-out-redis-worker-2.log"), UTF8);
    assertThat(workerLog).contains("invalidator running with role worker", "stopped");
    assertThat(daemonsUnder(ProcessHandle.current())).isEmpty();
  }

  @Test
  void interruptingTheBenchStopsEveryDaemonItStarted() throws Exception {
    Path output = dir.resolve("bench.out");
    String java = ProcessHandle.current().info().command().orElseThrow();
    Process bench =
        new ProcessBuilder(
                java,
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "bench",
                "--quick",
                "--scenarios",
                "scale-out",
                "--scale-out-transports",
                "redis",
                "--scale-out-workers",
                "1",
                "--scale-out-events",
                "1000000",
                "--postgres-url",
                TestServers.postgresUrl(),
                "--redis-url",
                TestServers.redisUrl(),
                "--out",
                dir.resolve("interrupted.json").toString())
            .redirectErrorStream(true)
            .redirectOutput(output.toFile())
            .start();
    List<ProcessHandle> daemons = List.of();
    try {
      // Interrupt once the relay and the worker run, while the (large) backlog is being written.
      for (int polls = 0;
          polls < 900 && !Files.readString(output, UTF8).contains("consumers in the group");
          polls++) {
        assertThat(bench.isAlive()).as(Files.readString(output, UTF8)).isTrue();
        Thread.sleep(100);
      }
      daemons = daemonsUnder(bench.toHandle());
      assertThat(daemons).as(Files.readString(output, UTF8)).hasSize(2);

      // Ctrl-C delivers SIGINT to the bench (here to the bench alone, not its process group).
      assertThat(new ProcessBuilder("kill", "-INT", Long.toString(bench.pid())).start().waitFor())
          .isZero();
      // Polls, not the clock: this machine's benchmark harness may stop and continue every
      // niced process at once, and time it did not run must not count.
      for (int polls = 0; polls < 600 && bench.isAlive(); polls++) {
        Thread.sleep(100);
      }
      assertThat(bench.isAlive()).as("the bench exits").isFalse();
      for (ProcessHandle d : daemons) {
        assertThat(d.isAlive()).as("daemon %d outlived the bench", d.pid()).isFalse();
      }
      // And the run's keys are gone: the bench was writing its backlog's cache entries when it
      // was interrupted, and a clean-up that ran while that went on left the later ones behind.
      String out = Files.readString(output, UTF8);
      Matcher run = Pattern.compile("bench: \\w+ run ([0-9a-f]{8}) ").matcher(out);
      assertThat(run.find()).as(out).isTrue();
      assertThat(keysOf("bench-" + run.group(1) + "-*")).as("keys of the interrupted run").isZero();
    } finally {
      // On a failure, nothing of this test may keep running: the daemons first (a SIGKILLed
      // bench leaves its children behind), then the bench.
      List<ProcessHandle> left = new ArrayList<>(daemons);
      left.addAll(bench.toHandle().descendants().toList());
      left.forEach(ProcessHandle::destroyForcibly);
      bench.destroyForcibly();
    }
  }

  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;

  /** How many keys of the test Redis match {@code pattern} (SCAN). */
  private static long keysOf(String pattern) {
    io.lettuce.core.RedisClient client = io.lettuce.core.RedisClient.create(TestServers.redisUrl());
    try (io.lettuce.core.api.StatefulRedisConnection<String, String> c = client.connect()) {
      io.lettuce.core.ScanArgs args = io.lettuce.core.ScanArgs.Builder.matches(pattern).limit(1000);
      io.lettuce.core.KeyScanCursor<String> cursor = c.sync().scan(args);
      long n = cursor.getKeys().size();
      while (!cursor.isFinished()) {
        cursor = c.sync().scan(cursor, args);
        n += cursor.getKeys().size();
      }
      return n;
    } finally {
      client.shutdown();
    }
  }

  /**
   * Live descendants of {@code parent} running the daemon's main class. Read from {@code
   * /proc/<pid>/cmdline}: {@code ProcessHandle.Info} leaves out the arguments of a command line as
   * long as these (the class path), which would make this find nothing and the tests pass blind.
   */
  private static List<ProcessHandle> daemonsUnder(ProcessHandle parent) {
    return parent
        .descendants()
        .filter(ProcessHandle::isAlive)
        .filter(
            h -> {
              try {
                String cmdline =
                    new String(
                        Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "cmdline")),
                        UTF8);
                return List.of(cmdline.split("\0")).contains("dev.invalidator.server.Main");
              } catch (java.io.IOException ex) {
                return false; // exited meanwhile
              }
            })
        .toList();
  }
}
