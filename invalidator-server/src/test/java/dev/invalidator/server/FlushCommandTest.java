package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.core.AggregateRef;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.RelayListener;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.testing.TestServers;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanCursor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code invalidator flush}: dry run, tag flush and tenant flush through the whole pipeline. */
class FlushCommandTest {
  @TempDir Path dir;

  private InvalidatorConfig cfg;
  private Servers servers;
  private OutboxTable table;
  private KeyScheme keys;
  private Path yaml;
  private CacheClient cache;

  @BeforeEach
  void setUp() throws Exception {
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    Map<String, String> o =
        Map.of(
            "postgres.url",
            TestServers.postgresUrl(),
            "redis.url",
            TestServers.redisUrl(),
            "postgres.table",
            "outbox_f" + id,
            "redis.prefix",
            "f" + id,
            "worker.block",
            "100ms",
            "worker.claimMinIdle",
            "2s",
            "relay.pollInterval",
            "200ms");
    cfg = ConfigLoader.load(null, Map.of(), o);
    StringBuilder y = new StringBuilder();
    o.forEach((k, v) -> y.append(k).append(": \"").append(v).append("\"\n"));
    yaml = Files.writeString(dir.resolve("invalidator.yaml"), y);
    servers = Servers.connect(cfg);
    table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    keys = cfg.redis().keyScheme();
    OutboxSchema.migrate(servers.dataSource(), table);
    cache = CacheClient.builder().redisClient(servers.redis()).keyScheme(keys).build();
  }

  @AfterEach
  void tearDown() throws Exception {
    cache.close();
    try (Connection c = servers.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table.qualified() + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + table.schema() + "." + table.table() + "_schema_history");
    }
    ScanCursor cursor = ScanCursor.INITIAL;
    do {
      KeyScanCursor<String> page =
          servers
              .connection()
              .sync()
              .scan(cursor, ScanArgs.Builder.matches(keys.prefix() + ":*").limit(500));
      if (!page.getKeys().isEmpty()) {
        servers.connection().sync().unlink(page.getKeys().toArray(String[]::new));
      }
      cursor = page;
    } while (!cursor.isFinished());
    servers.close();
  }

  @Test
  void dryRunCountsTheKeysAndWritesNothing() throws Exception {
    fill("acme", "1", "catalog");
    fill("acme", "2", "catalog");
    fill("acme", "3");

    Result tag =
        run("flush", "-c", yaml.toString(), "--tenant", "acme", "--tag", "catalog", "--dry-run");
    Result tenant = run("flush", "-c", yaml.toString(), "--tenant", "acme", "--dry-run");

    assertThat(tag.code).isZero();
    assertThat(tag.out).contains("would reach 2 keys");
    assertThat(tenant.out).contains("would reach 3 keys");
    assertThat(outboxRows()).isEmpty();
  }

  @Test
  void tagFlushThenTenantFlushGoThroughThePipelineAndStayInTheirTenant() throws Exception {
    AggregateRef a1 = fill("acme", "1", "catalog");
    AggregateRef a2 = fill("acme", "2");
    AggregateRef g1 = fill("globex", "1", "catalog");
    try (Pipeline pipeline =
        new Pipeline(
            cfg,
            servers,
            Daemon.Role.ALL,
            WorkerListener.NONE,
            RelayListener.NONE,
            Clock.systemUTC())) {
      pipeline.start();

      Result tag =
          run(
              "flush",
              "-c",
              yaml.toString(),
              "--tenant",
              "acme",
              "--tag",
              "catalog",
              "--wait",
              "--timeout",
              "60s");

      assertThat(tag.code).as(tag.out + tag.err).isZero();
      assertThat(tag.out)
          .contains("tag.invalidate")
          .contains("done: 1 members scanned, 1 unlinked");
      assertThat(exists(a1)).isFalse();
      assertThat(exists(a2)).isTrue();
      assertThat(exists(g1)).isTrue();

      Result tenant =
          run("flush", "-c", yaml.toString(), "--tenant", "acme", "--wait", "--timeout", "60s");

      assertThat(tenant.code).as(tenant.out + tenant.err).isZero();
      assertThat(tenant.out).contains("tenant.flush");
      assertThat(exists(a2)).isFalse();
      assertThat(exists(g1)).as("globex is not flushed by acme's flush").isTrue();
    }
    assertThat(outboxRows())
        .containsExactly(
            "acme/_tag/catalog/tag.invalidate/[\"catalog\"]",
            "acme/_tenant/acme/tenant.flush/[\"_all\"]");
  }

  @Test
  void invalidTenantIsRefusedNamingTheOption() throws Exception {
    Result r = run("flush", "-c", yaml.toString(), "--tenant", "acme{x}", "--dry-run");

    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).contains("--tenant").contains("'{'");
  }

  private record Result(int code, String out, String err) {}

  private static Result run(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
      int code = Main.execute(args);
      return new Result(
          code, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  private AggregateRef fill(String tenant, String id, String... tags) {
    AggregateRef ref = new AggregateRef(tenant, "product", id);
    cache.get(
        tenant,
        "product",
        id,
        "card",
        List.of(tags),
        () -> new CacheClient.Versioned(1, "x".getBytes(StandardCharsets.UTF_8)));
    assertThat(exists(ref)).isTrue();
    return ref;
  }

  private boolean exists(AggregateRef ref) {
    return servers.connection().sync().exists(keys.entry(ref, "card")) == 1;
  }

  private List<String> outboxRows() throws Exception {
    List<String> rows = new ArrayList<>();
    try (Connection c = servers.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT tenant_id, aggregate_type, aggregate_id, event_type, payload->'tags' FROM "
                    + table.qualified()
                    + " ORDER BY id")) {
      while (rs.next()) {
        rows.add(
            rs.getString(1)
                + "/"
                + rs.getString(2)
                + "/"
                + rs.getString(3)
                + "/"
                + rs.getString(4)
                + "/"
                + rs.getString(5).replace(" ", ""));
      }
    }
    return rows;
  }
}
