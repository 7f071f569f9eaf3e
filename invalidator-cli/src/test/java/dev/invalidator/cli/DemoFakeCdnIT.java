package dev.invalidator.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.testing.ConsoleCapture;
import dev.invalidator.testing.TestServers;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code invalidator demo --cdn <provider>}: the demo starts a fake of the provider's purge API on
 * loopback, which checks every request's shape and answers every third one 429 with Retry-After.
 * The run must end with nothing stale in Redis and no CDN tag written after its last purge, with
 * 429s seen and retried, and no request refused. Short runs: the three take about 15 s together.
 */
class DemoFakeCdnIT {
  private static final Pattern SUMMARY =
      Pattern.compile(
          "cdn \\w+ +purges (\\d+) in [0-9.]+ s .* tags purged (\\d+), 429s seen (\\d+)");

  private static ConsoleCapture.Result demo(String provider, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "demo",
                "--postgres-url",
                TestServers.postgresUrl(),
                "--redis-url",
                TestServers.redisUrl(),
                "--duration",
                "2s",
                "--tenants",
                "2",
                "--accounts",
                "20",
                "--rate",
                "100",
                "--writers",
                "2",
                "--readers",
                "2",
                "--observer-grace",
                "1s",
                "--cdn",
                provider,
                "--cdn-throttle-every",
                "3"));
    args.addAll(List.of(extra));
    return ConsoleCapture.run(Main::execute, args.toArray(String[]::new));
  }

  @ParameterizedTest
  @ValueSource(strings = {"fastly", "cloudflare", "akamai"})
  void demoPurgesAFakeCdnThrough429sAndLeavesNothingStale(String provider) {
    ConsoleCapture.Result r = demo(provider);
    String all = r.out() + r.err();
    assertThat(r.out()).as(all).contains("fake " + provider + " purge API on http://127.0.0.1:");
    assertThat(r.out()).as(all).contains("stale after drain: 0");
    assertThat(r.out()).as(all).contains("cdn requests refused      0");
    assertThat(r.out())
        .as(all)
        .containsPattern("cdn tags written after their last purge: 0 of [1-9]");
    Matcher m = SUMMARY.matcher(r.out());
    assertThat(m.find()).as(all).isTrue();
    assertThat(Long.parseLong(m.group(1))).as("purge requests").isPositive();
    assertThat(Long.parseLong(m.group(2))).as("tags purged").isPositive();
    assertThat(Long.parseLong(m.group(3))).as("429s seen").isPositive();
    assertThat(r.exit()).as(all).isZero();
  }

  /** Negative control: writes whose events are dropped leave CDN tags unpurged, and it shows. */
  @Test
  void droppedInvalidationsLeaveCdnTagsStaleAndTheDemoFails() {
    ConsoleCapture.Result r = demo("fastly", "--drop-invalidations", "0.3");
    String all = r.out() + r.err();
    assertThat(r.out()).as(all).containsPattern("cdn tags written after their last purge: [1-9]");
    assertThat(r.exit()).as(all).isEqualTo(1);
  }
}
