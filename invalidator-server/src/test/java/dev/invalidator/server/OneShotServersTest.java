package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.testing.TestServers;
import io.netty.resolver.DefaultAddressResolverGroup;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Servers#connectOneShot} (what {@code status} connects with) keeps no PostgreSQL connection
 * open between its queries, as a pool would, and starts a lighter Lettuce client.
 */
class OneShotServersTest {
  @Test
  void oneShotKeepsNoConnectionOpenBetweenQueriesWhereThePoolKeepsThem() throws Exception {
    String app = "oneshot" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    InvalidatorConfig cfg = config(app);

    try (Servers servers = Servers.connectOneShot(cfg)) {
      awaitBackends(app, 0); // the connection that checked the server is closed
      try (Connection c = servers.dataSource().getConnection()) {
        assertThat(c.isValid(1)).isTrue();
        assertThat(backends(app)).isEqualTo(1);
      }
      awaitBackends(app, 0);
      assertThat(servers.dataSource().isWrapperFor(com.zaxxer.hikari.HikariDataSource.class))
          .isFalse();
    }
    // The contrast: the daemon's pool keeps its connections open between queries.
    try (Servers servers = Servers.connect(cfg)) {
      assertThat(servers.dataSource().isWrapperFor(com.zaxxer.hikari.HikariDataSource.class))
          .isTrue();
      await().atMost(Duration.ofSeconds(10)).until(() -> backends(app) >= 1);
    }
    awaitBackends(app, 0);
  }

  @Test
  void oneShotLettuceHasTheJdkResolverAndNoJfrEvents() {
    InvalidatorConfig cfg = config("oneshot");
    try (Servers servers = Servers.connectOneShot(cfg)) {
      var resources = servers.connector().client().getResources();
      assertThat(resources.addressResolverGroup()).isSameAs(DefaultAddressResolverGroup.INSTANCE);
      assertThat(System.getProperty("io.lettuce.core.jfr")).isEqualTo("false");
      assertThat(servers.connection().sync().ping()).isEqualTo("PONG");
    }
  }

  private static InvalidatorConfig config(String applicationName) {
    String url = TestServers.postgresUrl();
    url += (url.contains("?") ? "&" : "?") + "ApplicationName=" + applicationName;
    return ConfigLoader.load(
        null, Map.of(), Map.of("postgres.url", url, "redis.url", TestServers.redisUrl()));
  }

  private static void awaitBackends(String app, int expected) {
    await().atMost(Duration.ofSeconds(10)).until(() -> backends(app) == expected);
  }

  /** Server processes of connections that named themselves {@code app}. */
  private static int backends(String app) throws SQLException {
    try (Connection c = DriverManager.getConnection(TestServers.postgresUrl());
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?")) {
      ps.setString(1, app);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }
}
