package dev.invalidator.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The run's figures as a table, as JSON, and the latency chart. */
final class Report {
  /** Published figures the issue quotes: context only, never a same-run baseline. */
  static final List<Map<String, String>> EXTERNAL_FIGURES =
      List.of(
          external(
              "relay-drain",
              "polling outbox relay drain",
              "14.5k events/s (fsync-bound, default PostgreSQL settings)"),
          external("write-path", "outbox write cost", "about +7% over a bare insert"),
          external(
              "latency",
              "CDC commit-to-consumer p99",
              "26-33 ms for the best pipelines; about 850 ms for Debezium Server at 200 events/s"));

  private Report() {}

  private static Map<String, String> external(String scenario, String what, String figure) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("scenario", scenario);
    m.put("what", what);
    m.put("figure", figure);
    m.put("source", "published figure quoted in issue 6; not measured in this run");
    return m;
  }

  static void printTable(
      PrintStream out,
      Map<String, Object> header,
      List<ScenarioResult> results,
      List<CommitToApplyScenario.Curves> curves) {
    out.println();
    out.printf(
        "Invalidator bench (%s), %s, run %s%n",
        header.get("mode"), header.get("startedAt"), header.get("runId"));
    out.println(table(results));
    for (ScenarioResult r : results) {
      out.printf(
          "  %s%n    measured: %s%n    baseline: %s%n", r.title(), r.subject(), r.baseline());
    }
    for (ScenarioResult r : results) {
      if (r.id().equals("sustained")) {
        out.println();
        Object relay = r.details().get("relayMode");
        out.println(
            "Freshness under sustained load (invalidator run as its own process"
                + (relay == null || relay.equals("polling") ? "" : ", " + relay + " relay")
                + "):");
        out.println(sustainedTable(r));
      }
      if (r.id().equals("scale-out")) {
        out.println();
        out.println("Scale-out (one relay process, N worker processes):");
        out.println(scaleOutTable(r));
      }
    }
    for (CommitToApplyScenario.Curves c : curves) {
      out.println();
      out.println(latencyTable(c));
      out.println(
          "(achieved below offered: the rate was beyond capacity; the percentiles then cover the"
              + " transactions started within the window and are a lower bound)");
    }
    out.println();
    out.println("External figures (published, quoted in issue 6; NOT same-run baselines):");
    for (Map<String, String> e : EXTERNAL_FIGURES) {
      out.printf("  [%s] %s: %s%n", e.get("scenario"), e.get("what"), e.get("figure"));
    }
  }

  /** The headline table, in Markdown (readable on a terminal too). */
  static String table(List<ScenarioResult> results) {
    StringBuilder b = new StringBuilder();
    b.append("| scenario | figure | Invalidator | baseline | ratio |\n");
    b.append("| --- | --- | ---: | ---: | ---: |\n");
    for (ScenarioResult r : results) {
      for (Figure f : r.figures()) {
        b.append(
            String.format(
                Locale.ROOT,
                "| %s | %s | %s | %s | %s |%n",
                r.title(),
                f.name(),
                number(f.value()),
                number(f.baseline()),
                Double.isNaN(f.ratio()) ? "n/a" : String.format(Locale.ROOT, "%.2fx", f.ratio())));
      }
    }
    return b.toString();
  }

  static String latencyTable(CommitToApplyScenario.Curves c) {
    StringBuilder b = new StringBuilder();
    b.append(
        "| offered (events/s) | achieved (tx/s) | p50 (ms) | p90 (ms) | p99 (ms) | p99.9 (ms) |"
            + " max (ms) | baseline p99 (ms) | baseline max (ms) |\n");
    b.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < c.pipeline().size(); i++) {
      LatencyPoint p = c.pipeline().get(i);
      LatencyPoint base = i < c.baseline().size() ? c.baseline().get(i) : null;
      // A rate at which nothing was applied in the window has no percentiles: say so, since
      // zeros would read as a perfect result.
      String none = "none applied";
      boolean empty = p.count() == 0;
      b.append(
          String.format(
              Locale.ROOT,
              "| %,d | %,.0f | %s | %s | %s | %s | %s | %s | %s |%n",
              p.offeredRate(),
              p.achievedRate(),
              empty ? none : number(p.p50()),
              empty ? none : number(p.p90()),
              empty ? none : number(p.p99()),
              empty ? none : number(p.p999()),
              empty ? none : number(p.max()),
              base == null ? "-" : number(base.p99()),
              base == null ? "-" : number(base.max())));
    }
    return b.toString();
  }

  /** The sustained-load scenario per rate, in Markdown; a rate with nothing applied says so. */
  @SuppressWarnings("unchecked")
  static String sustainedTable(ScenarioResult r) {
    StringBuilder b = new StringBuilder();
    b.append(
        "| offered (events/s) | achieved (tx/s) | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) |"
            + " first seconds p99 (ms) | naive p99 (ms) | p99 vs naive | backlog max |"
            + " backlog growth (/s) |\n");
    b.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (Map<String, Object> rate : (List<Map<String, Object>>) r.details().get("rates")) {
      LatencyPoint p = (LatencyPoint) rate.get("pipeline");
      LatencyPoint base = (LatencyPoint) rate.get("baseline");
      boolean none = p.count() == 0;
      b.append(
          String.format(
              Locale.ROOT,
              "| %,d | %,.0f | %s | %s | %s | %s | %s | %s | %s | %,d | %.1f%s |%n",
              p.offeredRate(),
              p.achievedRate(),
              none ? "none applied" : number(p.p50()),
              none ? "none applied" : number(p.p99()),
              none ? "none applied" : number(p.p999()),
              none ? "none applied" : number(p.max()),
              number((Double) rate.get("warmupP99Ms")),
              base.count() == 0 ? "none" : number(base.p99()),
              none || base.count() == 0
                  ? "n/a"
                  : String.format(Locale.ROOT, "%.2fx", p.p99() / base.p99()),
              (Long) rate.get("backlogMax"),
              (Double) rate.get("backlogGrowthPerSecond"),
              Boolean.TRUE.equals(rate.get("backlogBounded")) ? "" : " GROWING"));
    }
    b.append(
        "bare write path (closed loop, same writers): "
            + String.format(
                Locale.ROOT, "%,d", (Long) r.details().get("bareWriteCapacityTxPerSecond"))
            + " tx/s; rates above it skipped: "
            + r.details().get("skippedRatesAboveCapacity")
            + "\n");
    return b.toString();
  }

  /** The scale-out scenario per transport and worker count, in Markdown. */
  @SuppressWarnings("unchecked")
  static String scaleOutTable(ScenarioResult r) {
    StringBuilder b = new StringBuilder();
    b.append(
        "| transport | worker processes | consumers | events | seconds | applied (events/s) |"
            + " vs fewest | relay done after (s) | stale | lost |\n");
    b.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    Map<String, Double> first = new LinkedHashMap<>();
    for (ScaleOutScenario.Point p : (List<ScaleOutScenario.Point>) r.details().get("points")) {
      double base = first.computeIfAbsent(p.transport(), t -> p.eventsPerSecond());
      b.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %d | %,d | %.2f | %,.0f | %.2fx | %.2f | %d | %d |%n",
              p.transport(),
              p.workerProcesses(),
              p.consumers(),
              p.events(),
              p.seconds(),
              p.eventsPerSecond(),
              base == 0 ? Double.NaN : p.eventsPerSecond() / base,
              p.relayDoneSeconds(),
              p.stale(),
              p.lost()));
    }
    return b.toString();
  }

  static String number(double v) {
    if (Double.isNaN(v)) {
      return "n/a";
    }
    if (Math.abs(v) >= 1000) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    if (Math.abs(v) >= 10) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    if (Math.abs(v) >= 1) {
      return String.format(Locale.ROOT, "%.2f", v);
    }
    return String.format(Locale.ROOT, "%.3f", v);
  }

  static Map<String, Object> json(
      Map<String, Object> header,
      BenchSettings settings,
      List<ScenarioResult> results,
      List<CommitToApplyScenario.Curves> curves) {
    Map<String, Object> root = new LinkedHashMap<>(header);
    root.put("settings", settings(settings));
    List<Map<String, Object>> scenarios = new ArrayList<>();
    for (ScenarioResult r : results) {
      Map<String, Object> s = new LinkedHashMap<>();
      s.put("id", r.id());
      s.put("title", r.title());
      s.put("measured", r.subject());
      s.put("baseline", r.baseline());
      List<Map<String, Object>> figures = new ArrayList<>();
      for (Figure f : r.figures()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", f.name());
        m.put("unit", f.unit());
        m.put("value", f.value());
        m.put("baseline", f.baseline());
        m.put("ratio", f.ratio());
        m.put("higherIsBetter", f.higherIsBetter());
        figures.add(m);
      }
      s.put("figures", figures);
      s.put("details", r.details());
      scenarios.add(s);
    }
    root.put("scenarios", scenarios);
    if (!curves.isEmpty()) {
      Map<String, Object> c = new LinkedHashMap<>();
      c.put("pipeline", curves.get(0).pipeline());
      c.put("baseline", curves.get(0).baseline());
      root.put("latencyCurve", c);
    }
    root.put("externalFigures", EXTERNAL_FIGURES);
    return root;
  }

  private static Map<String, Object> settings(BenchSettings s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("mode", s.mode());
    m.put("clients", s.clients());
    m.put("writeSecondsPerVariant", seconds(s.writeDuration()));
    m.put("accounts", s.accounts());
    m.put("backlog", s.backlog());
    m.put("insertBaselineSeconds", seconds(s.insertBaselineDuration()));
    m.put("relayBatchSize", s.relayBatchSize());
    m.put("applyEvents", s.applyEvents());
    m.put("workerThreads", s.workerThreads());
    m.put("workerBatchSize", s.workerBatchSize());
    m.put("rates", s.rates());
    m.put("rateSeconds", seconds(s.rateDuration()));
    m.put("rateWarmupSeconds", seconds(s.rateWarmup()));
    m.put("baselineRateSeconds", seconds(s.baselineRateDuration()));
    m.put("latencyWriters", s.latencyWriters());
    m.put("fillSecondsPerVariant", seconds(s.fillDuration()));
    m.put("scaleOut", s.scaleOut());
    m.put("sustainedRelays", s.relays());
    m.put(
        "scenarios", BenchSettings.ALL_SCENARIOS.stream().filter(s.scenarios()::contains).toList());
    return m;
  }

  private static double seconds(Duration d) {
    return d.toMillis() / 1000.0;
  }

  static void writeJson(Path path, Map<String, Object> json) throws IOException {
    Path parent = path.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(path.toFile(), json);
  }
}
