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
 * a second touch. A JVM left to size its heap by itself grows it while the load arrives, shrinks it
 * at a concurrent cycle and grows it again, and every growth pays that price inside a
 * garbage-collection pause: young pauses of 60-190 ms during the first seconds under 2,000
 * events/s, against 4-18 ms once the heap had settled. A minimum heap committed and touched at
 * start (1-2 s more start-up) removes those pauses; the heap may still grow beyond it when it must.
 */
public final class DaemonJvm {
  private DaemonJvm() {}

  /** The options, in the order the launcher passes them. */
  public static final List<String> OPTIONS = List.of("-Xms128m", "-XX:+AlwaysPreTouch");

  /**
   * The options a daemon gets when started by the launcher with this environment: {@code
   * INVALIDATOR_JAVA_OPTS} split on white space when it is set (even empty, which means none),
   * {@link #OPTIONS} otherwise.
   */
  public static List<String> options(Map<String, String> env) {
    String given = env.get("INVALIDATOR_JAVA_OPTS");
    if (given == null) {
      return OPTIONS;
    }
    String trimmed = given.strip();
    return trimmed.isEmpty() ? List.of() : List.of(trimmed.split("\\s+"));
  }
}
