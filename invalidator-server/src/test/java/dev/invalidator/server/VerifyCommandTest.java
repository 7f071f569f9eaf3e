package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.AggregateRef;
import dev.invalidator.redis.CacheClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code invalidator verify} against real PostgreSQL and Redis: the report, and {@code --json}. */
class VerifyCommandTest {
  @TempDir Path dir;

  private TestEnv env;
  private String business;
  private Path yaml;
  private CacheClient cache;

  @BeforeEach
  void setUp() throws Exception {
    business = "acct_v" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    Map<String, String> o = new LinkedHashMap<>();
    o.put(
        "observer.queries",
        "account=SELECT version FROM " + business + " WHERE tenant_id = ? AND account_id = ?");
    o.put("observer.maxDbReadsPerSecond", "500");
    env = new TestEnv(o);
    StringBuilder y = new StringBuilder();
    y.append("postgres.url: \"").append(env.cfg.postgres().url()).append("\"\n");
    y.append("redis.url: \"").append(env.cfg.redis().url()).append("\"\n");
    y.append("postgres.table: \"").append(env.cfg.postgres().table()).append("\"\n");
    y.append("redis.prefix: \"").append(env.keys.prefix()).append("\"\n");
    o.forEach((k, v) -> y.append(k).append(": \"").append(v).append("\"\n"));
    yaml = Files.writeString(dir.resolve("invalidator.yaml"), y);
    try (Connection c = env.servers.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "CREATE TABLE "
              + business
              + " (tenant_id text, account_id text, version bigint NOT NULL,"
              + " PRIMARY KEY (tenant_id, account_id))");
    }
    cache = CacheClient.builder().redisClient(env.servers.redis()).keyScheme(env.keys).build();
  }

  @AfterEach
  void tearDown() throws Exception {
    cache.close();
    try (Connection c = env.servers.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + business);
    }
    env.close();
  }

  @Test
  void freshCacheReportsEveryEntryConsistent() throws Exception {
    for (int i = 0; i < 20; i++) {
      row("acme", "a" + i, 3);
      fill("acme", "a" + i);
    }

    Result r = run("verify", "-c", yaml.toString(), "--recheck-after", "100ms");

    assertThat(r.code).as(r.err).isZero();
    assertThat(r.out)
        .contains("entries scanned     20 (20 aggregates)")
        .contains("consistent          20")
        .contains("inconsistent        0")
        .contains("consistency: 100% (20 checks)");
    assertThat(r.err).contains("checking [").contains("100% 20/20 aggregates");
  }

  @Test
  void staleEntriesAreReportedWithExamplesAndInJson() throws Exception {
    for (int i = 0; i < 10; i++) {
      row("acme", "a" + i, 1);
      fill("acme", "a" + i);
    }
    row("globex", "g0", 1);
    fill("globex", "g0");
    // Three rows change and their invalidations are dropped: the cached version 1 stays servable.
    for (int i = 0; i < 3; i++) {
      row("acme", "a" + i, 2);
    }

    Result text = run("verify", "-c", yaml.toString(), "--recheck-after", "100ms");
    Result json =
        run("verify", "-c", yaml.toString(), "--tenant", "acme", "--json", "--recheck-after", "0s");

    assertThat(text.code).isEqualTo(1);
    assertThat(text.out)
        .contains("entries scanned     11 (11 aggregates)")
        .contains("consistent          8")
        .contains("inconsistent        3")
        .containsPattern(
            "inconsistent: tenant acme account/a[012] view summary serves version 1,"
                + " database holds 2 \\(fence none\\)")
        .contains("consistency: 73% (0.6 nines) (11 checks)");
    assertThat(json.code).isEqualTo(1);
    JsonNode report = new ObjectMapper().readTree(json.out);
    assertThat(report.get("aggregates").asLong()).isEqualTo(10);
    assertThat(report.get("consistent").asLong()).isEqualTo(7);
    assertThat(report.get("inconsistent").asLong()).isEqualTo(3);
    assertThat(report.get("ratio").asDouble()).isEqualTo(0.7);
    assertThat(report.get("nines").asDouble()).isBetween(0.52, 0.53);
    assertThat(report.get("examples")).hasSize(3);
    assertThat(report.get("examples").get(0).get("served_version").asLong()).isEqualTo(1);
    assertThat(report.get("examples").get(0).get("database_version").asLong()).isEqualTo(2);
  }

  @Test
  void withoutQueriesVerifyStopsNamingTheSetting() throws Exception {
    Path bare =
        Files.writeString(
            dir.resolve("bare.yaml"),
            "postgres.url: \""
                + env.cfg.postgres().url()
                + "\"\nredis.url: \""
                + env.cfg.redis().url()
                + "\"\n");

    Result r = run("verify", "-c", bare.toString());

    assertThat(r.code).isEqualTo(2);
    assertThat(r.err).contains("observer.queries");
  }

  private void row(String tenant, String id, long version) throws SQLException {
    try (Connection c = env.servers.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO "
                    + business
                    + " VALUES (?, ?, ?) ON CONFLICT (tenant_id, account_id)"
                    + " DO UPDATE SET version = EXCLUDED.version")) {
      ps.setString(1, tenant);
      ps.setString(2, id);
      ps.setLong(3, version);
      ps.executeUpdate();
    }
  }

  private void fill(String tenant, String id) throws SQLException {
    long v;
    try (Connection c = env.servers.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT version FROM " + business + " WHERE tenant_id = ? AND account_id = ?")) {
      ps.setString(1, tenant);
      ps.setString(2, id);
      try (var rs = ps.executeQuery()) {
        rs.next();
        v = rs.getLong(1);
      }
    }
    long version = v;
    cache.get(
        tenant,
        "account",
        id,
        "summary",
        () -> new CacheClient.Versioned(version, "x".getBytes(StandardCharsets.UTF_8)));
    assertThat(
            env.servers
                .connection()
                .sync()
                .exists(env.keys.entry(new AggregateRef(tenant, "account", id), "summary")))
        .isEqualTo(1);
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
}
