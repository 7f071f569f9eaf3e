package dev.invalidator.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.invalidator.redis.CacheInspector;
import dev.invalidator.server.config.ConfigException;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.consistency.Nines;
import dev.invalidator.server.consistency.Verification;
import dev.invalidator.server.consistency.VersionQueries;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code invalidator verify}: scans cached entries, compares what a reader would be served with the
 * database through {@code observer.queries}, and prints a report.
 */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    description = {
      "Scan cached entries and check each against the database (observer.queries): what a "
          + "CacheClient reader would be served must not be older than the row.",
      "Exits 1 when any entry is inconsistent."
    })
final class VerifyCommand implements Callable<Integer> {
  @Mixin ConnectionOptions connection;

  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--tenant", paramLabel = "T", description = "Only entries of this tenant.")
  String tenant;

  @Option(names = "--type", paramLabel = "X", description = "Only entries of this aggregate type.")
  String type;

  @Option(
      names = "--sample",
      paramLabel = "N",
      defaultValue = "1000",
      description = "Cache entries to check at most (default ${DEFAULT-VALUE}).")
  long sample;

  @Option(
      names = "--recheck-after",
      paramLabel = "DURATION",
      defaultValue = "1s",
      description =
          "Wait before re-checking an entry that looked stale (an invalidation may be in flight; default ${DEFAULT-VALUE}).")
  String recheckAfter;

  @Option(
      names = "--max-db-reads",
      paramLabel = "N",
      description = "Database reads per second at most (default observer.maxDbReadsPerSecond).")
  Double maxDbReads;

  @Option(names = "--json", description = "Print JSON instead of a report.")
  boolean json;

  @Override
  public Integer call() throws Exception {
    InvalidatorConfig cfg = connection.load();
    if (cfg.observer().queries().isEmpty()) {
      throw new ConfigException(
          "observer.queries",
          "verify needs the version query of each aggregate type, e.g."
              + " account=SELECT version FROM account WHERE tenant_id = ? AND id = ?");
    }
    if (sample < 1) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--sample must be at least 1");
    }
    Duration recheck =
        dev.invalidator.server.config.Durations.parse("--recheck-after", recheckAfter);
    double rate = maxDbReads != null ? maxDbReads : cfg.observer().maxDbReadsPerSecond();
    if (!(rate > 0)) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--max-db-reads must be positive");
    }
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Verification.Report report;
    try (Servers servers = Servers.connect(cfg);
        CacheInspector inspector =
            CacheInspector.create(servers.connector(), cfg.redis().keyScheme())) {
      Verification verification =
          new Verification(
              inspector, new VersionQueries(servers.dataSource(), cfg.observer().queries()), rate);
      ProgressBar bar = new ProgressBar(err);
      report = verification.run(tenant, type, sample, recheck, bar::update);
      bar.done();
    }
    if (json) {
      out.println(
          new ObjectMapper()
              .enable(SerializationFeature.INDENT_OUTPUT)
              .writeValueAsString(json(report)));
    } else {
      print(out, report);
    }
    out.flush();
    return report.inconsistent() == 0 ? 0 : 1;
  }

  static Map<String, Object> json(Verification.Report r) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("entries_scanned", r.entries());
    m.put("aggregates", r.aggregates());
    m.put("checked", r.checked());
    m.put("consistent", r.consistent());
    m.put("inconsistent", r.inconsistent());
    m.put("unknown", r.unknown());
    m.put("no_query", r.noQuery());
    m.put("no_row", r.noRow());
    double ratio = r.ratio();
    double nines = Nines.nines(ratio);
    m.put("ratio", Double.isNaN(ratio) ? null : ratio);
    m.put("nines", Double.isNaN(nines) || Double.isInfinite(nines) ? null : nines);
    m.put("consistency", r.text());
    List<Map<String, Object>> examples = new ArrayList<>();
    for (Verification.Example e : r.examples()) {
      Map<String, Object> x = new LinkedHashMap<>();
      x.put("tenant", e.aggregate().tenantId());
      x.put("aggregate_type", e.aggregate().type());
      x.put("aggregate_id", e.aggregate().id());
      x.put("view", e.view());
      x.put("served_version", e.served());
      x.put("database_version", e.database());
      x.put("fence", e.fence() < 0 ? null : e.fence());
      examples.add(x);
    }
    m.put("examples", examples);
    return m;
  }

  private static void print(PrintWriter out, Verification.Report r) {
    out.printf("entries scanned     %d (%d aggregates)%n", r.entries(), r.aggregates());
    out.printf("checked             %d%n", r.checked());
    out.printf("consistent          %d%n", r.consistent());
    out.printf("inconsistent        %d%n", r.inconsistent());
    out.printf("unknown             %d (the row changed again before the re-check)%n", r.unknown());
    if (r.noQuery() > 0) {
      out.printf("not checked         %d (type without an observer.queries entry)%n", r.noQuery());
    }
    if (r.noRow() > 0) {
      out.printf("no database row     %d%n", r.noRow());
    }
    for (Verification.Example e : r.examples()) {
      out.printf(
          "  inconsistent: tenant %s %s/%s view %s serves version %d, database holds %d (fence %s)%n",
          e.aggregate().tenantId(),
          e.aggregate().type(),
          e.aggregate().id(),
          e.view(),
          e.served(),
          e.database(),
          e.fence() < 0 ? "none" : Long.toString(e.fence()));
    }
    out.printf("consistency: %s (%d checks)%n", r.text(), r.checked());
  }

  /** A one-line progress bar on stderr, redrawn when the percentage moves. */
  private static final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintWriter err;
    private int lastPercent = -1;

    ProgressBar(PrintWriter err) {
      this.err = err;
    }

    void update(long done, long total) {
      int percent = total == 0 ? 100 : (int) (100 * done / total);
      if (percent == lastPercent) {
        return;
      }
      lastPercent = percent;
      int filled = percent * WIDTH / 100;
      err.printf(
          "\rchecking [%s%s] %3d%% %d/%d aggregates",
          "#".repeat(filled), "-".repeat(WIDTH - filled), percent, done, total);
      err.flush();
    }

    void done() {
      err.println();
      err.flush();
    }
  }
}
