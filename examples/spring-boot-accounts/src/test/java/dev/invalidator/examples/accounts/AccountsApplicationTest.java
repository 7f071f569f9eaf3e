package dev.invalidator.examples.accounts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.invalidator.core.WorkerListener;
import dev.invalidator.outbox.OutboxStats;
import dev.invalidator.redis.RedisStreamSource;
import dev.invalidator.redis.StreamStats;
import dev.invalidator.server.Daemon;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.testing.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The application behind HTTP with the daemon's relay and workers running beside it: concurrent
 * deposits and reads, then, once the pipeline has drained (the README's drain check), every account
 * read through the cache is the database's. With a negative control: a change made without its
 * outbox event is caught by the same checker.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class AccountsApplicationTest {
  private static final String ID =
      HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
  private static final String PREFIX = "x" + ID;
  private static final String TABLE = "outbox_x" + ID;
  private static final String TENANT = "acme";
  private static final int ACCOUNTS = 20;

  private static final Daemon daemon = startDaemon();

  private final HttpClient http = HttpClient.newHttpClient();
  private final ObjectMapper mapper = new ObjectMapper();

  @LocalServerPort int port;
  @Autowired JdbcTemplate jdbc;

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry r) {
    r.add("spring.datasource.url", TestServers::postgresUrl);
    r.add("spring.data.redis.url", TestServers::redisUrl);
    r.add("invalidator.redis.prefix", () -> PREFIX);
    r.add("invalidator.outbox.table", () -> TABLE);
  }

  private static Daemon startDaemon() {
    Map<String, String> o = new HashMap<>();
    o.put("postgres.url", TestServers.postgresUrl());
    o.put("redis.url", TestServers.redisUrl());
    o.put("postgres.table", TABLE);
    o.put("redis.prefix", PREFIX);
    o.put("worker.block", "100ms");
    o.put("relay.pollInterval", "200ms");
    o.put("admin.port", "0");
    InvalidatorConfig cfg = ConfigLoader.load(null, Map.of(), o);
    Daemon d = Daemon.create(cfg, Daemon.Role.ALL, WorkerListener.NONE, true);
    d.start(true);
    return d;
  }

  @AfterAll
  static void stopDaemon() {
    JdbcTemplate jdbc = new JdbcTemplate(daemon.dataSource());
    try {
      jdbc.execute("DELETE FROM example_account WHERE tenant_id = '" + TENANT + "-" + ID + "'");
      jdbc.execute("DROP TABLE IF EXISTS public." + TABLE + " CASCADE");
      jdbc.execute("DROP TABLE IF EXISTS public." + TABLE + "_schema_history");
    } finally {
      daemon.close();
    }
  }

  @Test
  void noReadAfterDrainIsStaleUnderConcurrentWritesAndReads() throws Exception {
    String tenant = TENANT + "-" + ID;
    AtomicBoolean writing = new AtomicBoolean(true);
    AtomicLong writes = new AtomicLong();
    AtomicLong reads = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> writers = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        writers.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 60; i++) {
                    String id = "a" + ThreadLocalRandom.current().nextInt(ACCOUNTS);
                    assertThat(post(tenant, id, 1 + ThreadLocalRandom.current().nextInt(100)))
                        .isEqualTo(200);
                    writes.incrementAndGet();
                  }
                  return null;
                }));
      }
      List<Future<?>> readers = new ArrayList<>();
      for (int r = 0; r < 4; r++) {
        readers.add(
            pool.submit(
                () -> {
                  while (writing.get()) {
                    String id = "a" + ThreadLocalRandom.current().nextInt(ACCOUNTS);
                    int status = get(tenant, id).statusCode();
                    assertThat(status).isIn(200, 404);
                    reads.incrementAndGet();
                  }
                  return null;
                }));
      }
      for (Future<?> f : writers) {
        f.get(120, TimeUnit.SECONDS);
      }
      writing.set(false);
      for (Future<?> f : readers) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(writes).hasValue(240);
    assertThat(reads.get()).isPositive();

    awaitDrain();

    assertThat(staleReads(tenant)).isEmpty();
  }

  /** Negative control: a change that bypasses the outbox is caught by the checker. */
  @Test
  void checkerCatchesAChangeMadeWithoutItsEvent() throws Exception {
    String tenant = TENANT + "-" + ID;
    assertThat(post(tenant, "control", 5)).isEqualTo(200);
    awaitDrain();
    assertThat(get(tenant, "control").statusCode()).isEqualTo(200); // cached now

    jdbc.update(
        "UPDATE example_account SET balance = balance + 1, version = version + 1"
            + " WHERE tenant_id = ? AND account_id = 'control'",
        tenant);

    assertThat(staleReads(tenant)).anySatisfy(s -> assertThat(s).startsWith("control:"));
  }

  /** Every account of the tenant whose HTTP read differs from its row. */
  private List<String> staleReads(String tenant) throws Exception {
    List<String> stale = new ArrayList<>();
    List<Map<String, Object>> rows =
        jdbc.queryForList(
            "SELECT account_id, balance, version FROM example_account WHERE tenant_id = ?", tenant);
    assertThat(rows).isNotEmpty();
    for (Map<String, Object> row : rows) {
      String id = (String) row.get("account_id");
      HttpResponse<String> r = get(tenant, id);
      if (r.statusCode() != 200) {
        stale.add(id + ": HTTP " + r.statusCode() + ", database at version " + row.get("version"));
        continue;
      }
      Account served = mapper.readValue(r.body(), Account.class);
      if (served.version() != ((Number) row.get("version")).longValue()
          || served.balance() != ((Number) row.get("balance")).longValue()) {
        stale.add(id + ": served " + served + ", database " + row);
      }
    }
    return stale;
  }

  /** The README's drain check: nothing unrelayed, nothing pending or undelivered on the stream. */
  private static void awaitDrain() {
    try (RedisStreamSource stream =
        RedisStreamSource.builder(daemon.redisClient(), new dev.invalidator.core.KeyScheme(PREFIX))
            .group("invalidator")
            .consumer("drain-check")
            .build()) {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> {
                StreamStats s = stream.stats();
                return OutboxStats.read(daemon.dataSource(), daemon.outboxTable()).pending() == 0
                    && s.pending() == 0
                    && s.lag() == 0;
              });
    }
  }

  private int post(String tenant, String id, long amount) throws Exception {
    return http.send(
            HttpRequest.newBuilder(
                    uri("/tenants/" + tenant + "/accounts/" + id + "/deposits?amount=" + amount))
                .POST(HttpRequest.BodyPublishers.noBody())
                .build(),
            HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  private HttpResponse<String> get(String tenant, String id) throws Exception {
    return http.send(
        HttpRequest.newBuilder(uri("/tenants/" + tenant + "/accounts/" + id)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }
}
