package dev.invalidator.server;

import dev.invalidator.core.InvalidationEvent;
import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxSchema;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.testing.TestServers;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A private outbox table and Redis key prefix on the test servers, with the configuration to go
 * with them, and helpers to commit events and call the admin HTTP server.
 */
final class TestEnv implements AutoCloseable {
  final InvalidatorConfig cfg;
  final Servers servers;
  final OutboxTable table;
  final KeyScheme keys;
  final OutboxWriter writer;
  private final HttpClient http = HttpClient.newHttpClient();

  TestEnv(Map<String, String> extra) {
    String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    Map<String, String> o = new HashMap<>();
    o.put("postgres.url", TestServers.postgresUrl());
    o.put("redis.url", TestServers.redisUrl());
    o.put("postgres.table", "outbox_o" + id);
    o.put("redis.prefix", "o" + id);
    o.put("worker.block", "100ms");
    o.put("worker.claimMinIdle", "2s");
    o.put("worker.claimInterval", "500ms");
    o.put("relay.pollInterval", "200ms");
    o.put("admin.port", "0");
    o.put("observability.sampleInterval", "200ms");
    o.putAll(extra);
    cfg = ConfigLoader.load(null, Map.of(), o);
    servers = Servers.connect(cfg);
    table = OutboxTable.of(cfg.postgres().schema(), cfg.postgres().table());
    keys = cfg.redis().keyScheme();
    OutboxSchema.migrate(servers.dataSource(), table);
    writer = OutboxWriter.create(table);
  }

  /** Commits one event in its own transaction. */
  InvalidationEvent commit(String tenant, String id, long version) {
    InvalidationEvent e =
        InvalidationEvent.builder()
            .tenant(tenant)
            .aggregate("account", id)
            .version(version)
            .eventType("account.changed")
            .build();
    try (Connection c = servers.dataSource().getConnection()) {
      c.setAutoCommit(false);
      writer.append(c, e);
      c.commit();
    } catch (SQLException ex) {
      throw new IllegalStateException(ex);
    }
    return e;
  }

  HttpResponse<String> get(URI base, String path) {
    return send(HttpRequest.newBuilder(base.resolve(path)).GET().build());
  }

  HttpResponse<String> post(URI base, String path, String token) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(base.resolve(path)).POST(HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return send(b.build());
  }

  private HttpResponse<String> send(HttpRequest r) {
    try {
      return http.send(
          HttpRequest.newBuilder(r, (k, v) -> true).timeout(Duration.ofSeconds(20)).build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException ex) {
      throw new java.io.UncheckedIOException(ex);
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(ex);
    }
  }

  @Override
  public void close() throws SQLException {
    try (Connection c = servers.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("DROP TABLE IF EXISTS " + table.qualified() + " CASCADE");
      s.execute("DROP TABLE IF EXISTS " + table.schema() + "." + table.table() + "_schema_history");
      s.execute("DROP FUNCTION IF EXISTS " + table.schema() + "." + table.table() + "_wakeup()");
    }
    List<String> redisKeys = servers.connection().sync().keys(keys.prefix() + ":*");
    if (!redisKeys.isEmpty()) {
      servers.connection().sync().unlink(redisKeys.toArray(String[]::new));
    }
    servers.close();
  }
}
