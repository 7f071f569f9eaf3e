package dev.invalidator.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

class EmbeddedServersTest {
  @Test
  void embeddedPostgresAcceptsQueries() throws Exception {
    try (EmbeddedPostgresServer pg = EmbeddedPostgresServer.start();
        Connection c = DriverManager.getConnection(pg.jdbcUrl());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 41 + 1")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getInt(1)).isEqualTo(42);
    }
  }

  @Test
  void embeddedRedisListensOnLoopback() throws Exception {
    try (EmbeddedRedisServer redis = EmbeddedRedisServer.start();
        java.net.Socket socket = new java.net.Socket("127.0.0.1", redis.port())) {
      socket
          .getOutputStream()
          .write("PING\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      byte[] buf = new byte[7];
      int n = socket.getInputStream().read(buf);
      assertThat(new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII))
          .isEqualTo("+PONG\r\n");
    }
  }
}
