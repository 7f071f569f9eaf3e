package dev.invalidator.bench;

import java.util.List;
import java.util.Map;

/**
 * The JVM options {@code ./invalidator run} starts the daemon with when {@code
 * INVALIDATOR_JAVA_OPTS} is not set; the sustained scenario starts its daemon with the same ones,
 * so it measures the daemon as a user starts it (the launcher script and this list are checked
 * against each other by a test).
 *
 * <p>Why: on the machines this project is measured on (virtual machines whose memory is backed on
 * first touch), touching a page of memory for the first time costs about 40 microseconds, 100 times
 * a second touch. A heap that grows under load pays that inside garbage-collection pauses, and with
 * {@code AlwaysPreTouch} the pause itself touches the new part. Measured through the sustained
 * scenario at 2,000 events/s: with {@code -Xms128m} (pretouched) the heap grew to 220 MB in a 329
 * ms pause; with {@code -Xms256m} it grew to 336 MB in a 426 ms pause; with {@code -Xms256m
 * -Xmx256m} the longest pause was 20 ms. The daemon's heap after a collection holds about 25 MB at
 * that rate, so a fixed 512 MB leaves ample room for large batches and the Kafka clients; touching
 * it adds about 0.8 s to start-up on that machine.
 */
public final class DaemonJvm {
  private DaemonJvm() {}

  /** The options, in the order the launcher passes them. */
  public static final List<String> OPTIONS = List.of("-Xms512m", "-Xmx512m", "-XX:+AlwaysPreTouch");

  /**
   * The options a daemon gets when started by the launcher with this environment: {@code
   * INVALIDATOR_JAVA_OPTS} split on white space when it is set (even empty, which means none),
   * {@link #OPTIONS} otherwise.
   */
  public static List<String> options(Map<String, String> env) {
    String given = env.get("INVALIDATOR_JAVA_OPTS");
    return given == null ? OPTIONS : split(given);
  }

  /**
   * The options of a daemon the bench starts: {@code INVALIDATOR_BENCH_DAEMON_JAVA_OPTS} split on
   * white space when it is set (to profile or try options on the daemon alone, since {@code
   * INVALIDATOR_JAVA_OPTS} also reaches the bench's own JVM, whose writers it measures), {@link
   * #options} otherwise.
   */
  public static List<String> benchDaemonOptions(Map<String, String> env) {
    String given = env.get("INVALIDATOR_BENCH_DAEMON_JAVA_OPTS");
    return given == null ? options(env) : split(given);
  }

  /** Options as the launcher's shell splits them: on white space, none when blank. */
  private static List<String> split(String given) {
    String trimmed = given.strip();
    return trimmed.isEmpty() ? List.of() : List.of(trimmed.split("\\s+"));
  }
}
