package dev.invalidator.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.invalidator.cdc.CdcRelay;
import dev.invalidator.cdc.SlotHealth;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.PollingRelay;
import dev.invalidator.redis.RedisStreamPublisher;
import dev.invalidator.server.config.InvalidatorConfig;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code invalidator cdc status|reset}: the CDC relay's replication slot and offsets. */
@Command(
    name = "cdc",
    mixinStandardHelpOptions = true,
    description = "The CDC relay's replication slot, offsets and repair (relay.mode: cdc).",
    subcommands = {CdcCommand.Status.class, CdcCommand.Reset.class})
final class CdcCommand implements Runnable {
  @Spec picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** A relay of the configuration that is never started: for its slot and offsets. */
  static CdcRelay relay(InvalidatorConfig cfg) {
    return Pipeline.cdcRelay(
            cfg,
            batch -> {
              throw new IllegalStateException("invalidator cdc publishes nothing itself");
            })
        .build();
  }

  @Command(
      name = "status",
      mixinStandardHelpOptions = true,
      description = {
        "Print the CDC relay's slot (exists, active pid, wal_status), its lag and retained WAL, "
            + "the stored offset and whether the relay could resume from it, and the unrelayed rows.",
        "Exit 1 when the relay could not resume (slot gone, lost or re-created).",
        "--json prints the same figures as one JSON object."
      })
  static final class Status implements Callable<Integer> {
    @Mixin ConnectionOptions connection;
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "Print JSON instead of a table.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      InvalidatorConfig cfg = connection.load();
      PrintWriter out = spec.commandLine().getOut();
      CdcRelay relay = relay(cfg);
      if (json) {
        Map<String, Object> status = figures(cfg, relay);
        out.println(
            new ObjectMapper()
                .enable(SerializationFeature.INDENT_OUTPUT)
                .writeValueAsString(status));
        return status.get("problem") == null ? 0 : 1;
      }
      SlotHealth h = relay.slotHealth();
      out.printf(
          "relay.mode      %s%s%n",
          cfg.relay().mode(), cfg.relay().cdc() ? "" : " (these are the settings cdc would use)");
      if (h.exists()) {
        out.printf(
            "slot            %s: %s, wal_status %s%n",
            h.slotName(),
            h.active() ? "active (walsender pid " + h.activePid() + ")" : "inactive",
            h.walStatus());
        out.printf(
            "lag             %d bytes not confirmed (confirmed_flush_lsn to current WAL)%n",
            h.unconfirmedBytes());
        out.printf("retained        %d bytes of WAL kept for the slot%n", h.retainedWalBytes());
        out.printf(
            "safe_wal_size   %s%n",
            h.safeWalSizeBytes() == null
                ? "none (max_slot_wal_keep_size unlimited, or the slot is lost)"
                : h.safeWalSizeBytes() + " bytes of WAL before wal_status becomes lost");
      } else {
        out.printf("slot            %s: does not exist%n", h.slotName());
      }
      out.printf("publication     %s%n", relay.publicationName());
      String stored = relay.storedPosition();
      OutboxTable t = relay.table();
      out.printf(
          "offsets         %s.%s_cdc_offsets: %s%n",
          t.schema(),
          t.table(),
          stored == null ? "none stored (the next start is a first start)" : stored);
      String problem = relay.slotProblem();
      out.printf("resumable       %s%n", problem == null ? "yes" : "NO: " + problem);
      try (Servers servers = Servers.connect(cfg)) {
        out.printf(
            "unrelayed       %d row(s) (relayed_at IS NULL)%n",
            OutboxStats.read(servers.dataSource(), t).pending());
      }
      return problem == null ? 0 : 1;
    }

    /**
     * The figures of {@code --json}, snake_case like {@code status --json}: a missing slot has
     * {@code wal_status} {@code missing}; figures PostgreSQL does not report are null.
     */
    static Map<String, Object> figures(InvalidatorConfig cfg, CdcRelay relay) {
      SlotHealth h = relay.slotHealth();
      String stored = relay.storedPosition();
      String problem = relay.slotProblem();
      OutboxTable t = relay.table();
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("relay_mode", cfg.relay().mode());
      m.put("slot", h.slotName());
      m.put("slot_exists", h.exists());
      m.put("active", h.active());
      m.put("active_pid", h.activePid());
      m.put("wal_status", h.walStatusOrMissing());
      m.put("lag_bytes", h.unconfirmedBytes());
      m.put("retained_bytes", h.retainedWalBytes());
      m.put("safe_wal_size_bytes", h.safeWalSizeBytes());
      m.put("publication", relay.publicationName());
      m.put("offsets_table", t.schema() + "." + t.table() + "_cdc_offsets");
      m.put("stored_position", stored);
      m.put("resumable", problem == null);
      m.put("problem", problem);
      try (Servers servers = Servers.connect(cfg)) {
        m.put("unrelayed", OutboxStats.read(servers.dataSource(), t).pending());
      }
      return m;
    }
  }

  @Command(
      name = "reset",
      mixinStandardHelpOptions = true,
      description = {
        "Repair after the CDC relay stopped on a lost or re-created slot: drop the slot and the "
            + "stored offsets, then republish every row the polling view counts as unrelayed "
            + "(relayed_at IS NULL) to the stream.",
        "The relay's next start (restart the daemon) creates the slot again with a snapshot of "
            + "the rows still unrelayed then. Refused while a relay of the slot runs. Duplicates are "
            + "harmless."
      })
  static final class Reset implements Callable<Integer> {
    @Mixin ConnectionOptions connection;
    @Spec picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--dry-run", description = "Only print what would be done.")
    boolean dryRun;

    @Override
    public Integer call() {
      InvalidatorConfig cfg = connection.load();
      PrintWriter out = spec.commandLine().getOut();
      CdcRelay relay = relay(cfg);
      OutboxTable t = relay.table();
      try (Servers servers = Servers.connect(cfg)) {
        SlotHealth h = relay.slotHealth();
        String stored = relay.storedPosition();
        long unrelayed = OutboxStats.read(servers.dataSource(), t).pending();
        String stream = cfg.redis().keyScheme().stream();
        if (dryRun) {
          out.printf(
              "would drop slot %s (%s), delete the stored offsets (%s) and republish %d"
                  + " unrelayed row(s) to %s; the relay's next start creates the slot again%n",
              h.slotName(),
              h.exists()
                  ? (h.active() ? "active: refused until its relay stops" : "inactive")
                  : "does not exist",
              stored == null ? "none" : stored,
              unrelayed,
              stream);
          return 0;
        }
        AtomicLong republished = new AtomicLong();
        relay.reset(
            () -> {
              PollingRelay polling =
                  PollingRelay.builder(
                          servers.dataSource(),
                          t,
                          new RedisStreamPublisher(
                              servers.connection(), cfg.redis().keyScheme(), Clock.systemUTC()))
                      .batchSize(cfg.relay().batchSize())
                      .maxBatchSize(cfg.relay().maxBatchSize())
                      .build();
              int n;
              while ((n = polling.drain()) > 0) {
                republished.addAndGet(n);
              }
            });
        out.printf(
            "dropped slot %s and its stored offsets (%s), republished %d unrelayed row(s) to %s;"
                + " start the relay (restart the daemon) to create the slot again%n",
            h.slotName(), stored == null ? "none" : stored, republished.get(), stream);
      }
      return 0;
    }
  }
}
