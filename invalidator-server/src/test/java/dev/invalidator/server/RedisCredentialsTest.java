package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.testing.TestServers;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Redis URLs with AUTH, an ACL user and TLS against a private redis-server started with {@code
 * --requirepass}, {@code ACL SETUSER} and {@code --tls-port} (a self-signed certificate made with
 * openssl); the passwords never reach the logs.
 */
class RedisCredentialsTest {
  private static final String PASSWORD = "s3cret-Pw-123";
  private static final String ACL_PASSWORD = "acl-Pw-456";
  private static Process redis;
  private static int port;
  private static int tlsPort;
  private static Path dir;

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @BeforeAll
  static void start() throws Exception {
    Path redisServer = RequiredTools.require("redis-server");
    Path openssl = RequiredTools.require("openssl");
    dir = Files.createTempDirectory("invalidator-redis-auth-");
    int rc =
        new ProcessBuilder(
                openssl.toString(),
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-keyout",
                dir.resolve("key.pem").toString(),
                "-out",
                dir.resolve("cert.pem").toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("openssl.log").toFile())
            .start()
            .waitFor();
    RequiredTools.require(rc == 0, "openssl could not make a certificate");
    port = freePort();
    tlsPort = freePort();
    Files.writeString(
        dir.resolve("users.acl"),
        "user default on >"
            + PASSWORD
            + " ~* &* +@all\nuser app on >"
            + ACL_PASSWORD
            + " ~* &* +@all\n");
    redis =
        new ProcessBuilder(
                redisServer.toString(),
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                dir.toString(),
                "--aclfile",
                dir.resolve("users.acl").toString(),
                "--tls-port",
                Integer.toString(tlsPort),
                "--tls-cert-file",
                dir.resolve("cert.pem").toString(),
                "--tls-key-file",
                dir.resolve("key.pem").toString(),
                "--tls-ca-cert-file",
                dir.resolve("cert.pem").toString(),
                "--tls-auth-clients",
                "no")
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("redis.log").toFile())
            .start();
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (true) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        if (s.isConnected()) {
          break;
        }
      } catch (java.io.IOException ex) {
        if (System.nanoTime() > deadline || !redis.isAlive()) {
          throw new IllegalStateException(
              "redis-server did not start; see " + dir.resolve("redis.log"));
        }
        Thread.sleep(50); // polling a port that is coming up
      }
    }
  }

  @AfterAll
  static void stop() {
    if (redis != null) {
      redis.destroyForcibly();
    }
  }

  private static void connectAndCheck(String url, String secret) {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    root.addAppender(logs);
    try {
      InvalidatorConfig cfg =
          ConfigLoader.load(
              null, Map.of(), Map.of("postgres.url", TestServers.postgresUrl(), "redis.url", url));
      try (Servers servers = Servers.connect(cfg)) {
        assertThat(servers.connection().sync().ping()).isEqualTo("PONG");
      }
      assertThat(cfg.redis().maskedUrl()).doesNotContain(secret);
    } finally {
      root.detachAppender(logs);
    }
    List<String> lines =
        logs.list.stream().map(e -> e.getFormattedMessage() + " " + e.getThrowableProxy()).toList();
    assertThat(lines).anyMatch(l -> l.contains("connected to Redis"));
    assertThat(lines).noneMatch(l -> l.contains(secret));
  }

  @Test
  void redisUrlWithPasswordWorksAndThePasswordIsNeverLogged() {
    connectAndCheck("redis://:" + PASSWORD + "@127.0.0.1:" + port, PASSWORD);
  }

  @Test
  void redisUrlWithAnAclUserWorksAndThePasswordIsNeverLogged() {
    connectAndCheck("redis://app:" + ACL_PASSWORD + "@127.0.0.1:" + port, ACL_PASSWORD);
  }

  @Test
  void redissUrlConnectsOverTls() {
    connectAndCheck(
        "rediss://app:" + ACL_PASSWORD + "@localhost:" + tlsPort + "?verifyPeer=NONE",
        ACL_PASSWORD);
  }

  @Test
  void wrongPasswordFailsWithAMessageThatDoesNotContainIt() {
    String wrong = "not-the-Pw-789";
    InvalidatorConfig cfg =
        ConfigLoader.load(
            null,
            Map.of(),
            Map.of(
                "postgres.url",
                TestServers.postgresUrl(),
                "redis.url",
                "redis://app:" + wrong + "@127.0.0.1:" + port));
    Throwable t =
        org.assertj.core.api.Assertions.catchThrowable(() -> Servers.connect(cfg).close());
    assertThat(t).isNotNull();
    assertThat(t.getMessage()).doesNotContain(wrong).contains("****");
  }
}
