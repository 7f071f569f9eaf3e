package dev.invalidator.server.observe;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP server (the JDK's {@code com.sun.net.httpserver}, two threads):
 *
 * <ul>
 *   <li>{@code GET /} the status page (plain HTML, CSS and JS from the jar), {@code /static/*};
 *   <li>{@code GET /metrics} Prometheus text;
 *   <li>{@code GET /health/live} 200 while the process serves; {@code GET /health/ready} 200 when
 *       every check passes, else 503, with each check's result as JSON;
 *   <li>{@code GET /api/status} the figures of {@code invalidator status} plus the live ones;
 *   <li>{@code GET /api/consistency} the consistency observer's figures and recent inconsistencies
 *       ({@code {"enabled": false}} when it does not run);
 *   <li>{@code GET /api/dlq?count=N} the oldest dead letters (of the Redis stream or of {@code
 *       <topic>-dlt}, see {@link DeadLetterApi}); {@code POST /api/dlq/<id>/redrive} and {@code
 *       POST /api/dlq/<id>/drop} need {@code Authorization: Bearer <admin.token>} (401 without or
 *       with a wrong one; 404 when no token is configured, the operations are then disabled).
 * </ul>
 *
 * Nothing here queries PostgreSQL or Redis except the readiness checks and the dead-letter
 * operations: every figure comes from the sampler's last sample.
 */
public final class AdminServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, String> STATIC =
      Map.of(
          "/", "index.html",
          "/static/app.js", "app.js",
          "/static/style.css", "style.css");

  /** A readiness check: returns a short description when healthy, throws when not. */
  public record Check(String name, Callable<String> probe) {}

  private final HttpServer server;
  private final ExecutorService executor;
  private final InvalidatorMetrics metrics;
  private final List<Check> checks;
  private final Supplier<Map<String, Object>> status;
  private final DeadLetterApi deadLetters;
  private final byte[] token;
  private final Supplier<Map<String, Object>> consistency;
  private volatile WorkflowCallbacks workflowCallbacks;

  /** Delivers a callback to a workflow's {@code wait-for-callback} step. */
  @FunctionalInterface
  public interface WorkflowCallbacks {
    /** False when no unfinished workflow has that id. */
    boolean deliver(String workflowId, String step, String body);
  }

  /**
   * Serves {@code POST /api/workflows/<workflow id>/callback/<step>} (with the admin token, like
   * the dead-letter operations) through {@code callbacks}.
   */
  public void workflowCallbacks(WorkflowCallbacks callbacks) {
    this.workflowCallbacks = callbacks;
  }

  private AdminServer(
      HttpServer server,
      InvalidatorMetrics metrics,
      List<Check> checks,
      Supplier<Map<String, Object>> status,
      DeadLetterApi deadLetters,
      String token,
      Supplier<Map<String, Object>> consistency) {
    this.server = server;
    this.consistency = consistency;
    this.metrics = metrics;
    this.checks = List.copyOf(checks);
    this.status = status;
    this.deadLetters = deadLetters;
    this.token = token == null || token.isEmpty() ? null : token.getBytes(StandardCharsets.UTF_8);
    this.executor =
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "admin-http");
              t.setDaemon(true);
              return t;
            });
    server.setExecutor(executor);
    server.createContext("/", this::handle);
  }

  /**
   * Starts serving on {@code bind:port} (port 0 picks a free one).
   *
   * @throws java.io.UncheckedIOException naming the address when it cannot listen
   */
  public static AdminServer start(
      String bind,
      int port,
      InvalidatorMetrics metrics,
      List<Check> checks,
      Supplier<Map<String, Object>> status,
      DeadLetterApi deadLetters,
      String token) {
    return start(bind, port, metrics, checks, status, deadLetters, token, null);
  }

  /**
   * Like {@link #start(String, int, InvalidatorMetrics, List, Supplier, DeadLetterApi, String)},
   * serving {@code /api/consistency} from {@code consistency} (null: the observer is off).
   */
  public static AdminServer start(
      String bind,
      int port,
      InvalidatorMetrics metrics,
      List<Check> checks,
      Supplier<Map<String, Object>> status,
      DeadLetterApi deadLetters,
      String token,
      Supplier<Map<String, Object>> consistency) {
    Objects.requireNonNull(metrics, "metrics");
    Objects.requireNonNull(status, "status");
    HttpServer server;
    try {
      server = HttpServer.create(new InetSocketAddress(bind, port), 16);
    } catch (IOException ex) {
      throw new java.io.UncheckedIOException(
          "admin HTTP server cannot listen on " + bind + ":" + port + " (admin.bind, admin.port)",
          ex);
    }
    AdminServer admin =
        new AdminServer(server, metrics, checks, status, deadLetters, token, consistency);
    server.start();
    log.info("admin HTTP server on {}", admin.uri());
    return admin;
  }

  /** The base URI, e.g. {@code http://127.0.0.1:9464/}. */
  public URI uri() {
    InetSocketAddress a = server.getAddress();
    String host = a.getAddress().getHostAddress();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return URI.create("http://" + host + ":" + a.getPort() + "/");
  }

  private void handle(HttpExchange ex) throws IOException {
    // The catch is inside the try-with-resources: a catch of the try-with-resources itself runs
    // after the exchange is closed, and the client got no answer at all instead of the 500.
    try (ex) {
      try {
        route(ex);
      } catch (RuntimeException e) {
        log.warn("admin HTTP request {} failed: {}", ex.getRequestURI(), e.toString(), e);
        try {
          json(ex, 500, Map.of("error", String.valueOf(e.getMessage())));
        } catch (IOException | RuntimeException ignored) {
          // the response may have started already
        }
      }
    }
  }

  private void route(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    if (path.startsWith("/api/dlq/") && method.equals("POST")) {
      dlqOperation(ex, path);
      return;
    }
    if (path.startsWith("/api/workflows/") && method.equals("POST")) {
      workflowCallback(ex, path);
      return;
    }
    if (!method.equals("GET") && !method.equals("HEAD")) {
      send(ex, 405, "text/plain; charset=utf-8", "method not allowed\n");
      return;
    }
    switch (path) {
      case "/metrics" ->
          send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape());
      case "/health/live" -> json(ex, 200, Map.of("status", "UP"));
      case "/health/ready" -> ready(ex);
      case "/api/status" -> json(ex, 200, status.get());
      case "/api/dlq" -> listDlq(ex);
      case "/api/consistency" ->
          json(ex, 200, consistency == null ? Map.of("enabled", false) : consistency.get());
      default -> staticFile(ex, path);
    }
  }

  private void ready(HttpExchange ex) throws IOException {
    Map<String, Object> results = new LinkedHashMap<>();
    boolean ok = true;
    for (Check c : checks) {
      Map<String, Object> r = new LinkedHashMap<>();
      try {
        r.put("status", "UP");
        r.put("detail", c.probe().call());
      } catch (Exception e) {
        ok = false;
        r.put("status", "DOWN");
        r.put("detail", String.valueOf(e.getMessage()));
      }
      results.put(c.name(), r);
    }
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("status", ok ? "UP" : "DOWN");
    body.put("checks", results);
    json(ex, ok ? 200 : 503, body);
  }

  private void listDlq(HttpExchange ex) throws IOException {
    if (deadLetters == null) {
      json(ex, 404, Map.of("error", "this process runs no workers: no dead letters here"));
      return;
    }
    int count = 100;
    String q = ex.getRequestURI().getRawQuery();
    if (q != null) {
      for (String part : q.split("&")) {
        if (part.startsWith("count=")) {
          try {
            count = Integer.parseInt(URLDecoder.decode(part.substring(6), StandardCharsets.UTF_8));
          } catch (NumberFormatException e) {
            json(ex, 400, Map.of("error", "count must be a whole number"));
            return;
          }
        }
      }
    }
    if (count < 1 || count > 1000) {
      json(ex, 400, Map.of("error", "count must be 1..1000"));
      return;
    }
    json(ex, 200, Map.of("dead_letters", deadLetters.list(count)));
  }

  private void workflowCallback(HttpExchange ex, String path) throws IOException {
    WorkflowCallbacks callbacks = workflowCallbacks;
    if (token == null || callbacks == null) {
      json(
          ex,
          404,
          Map.of(
              "error",
              "workflow callbacks are disabled: they need workflows.definitions and admin.token"));
      return;
    }
    if (!authorized(ex)) {
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"invalidator\"");
      json(ex, 401, Map.of("error", "a valid 'Authorization: Bearer <admin.token>' is required"));
      return;
    }
    String[] parts = path.substring("/api/workflows/".length()).split("/");
    if (parts.length != 3 || !parts[1].equals("callback")) {
      json(ex, 404, Map.of("error", "use POST /api/workflows/<workflow id>/callback/<step>"));
      return;
    }
    byte[] body = ex.getRequestBody().readNBytes(64 * 1024 + 1);
    if (body.length > 64 * 1024) {
      json(ex, 413, Map.of("error", "a callback body may have at most 64 KiB"));
      return;
    }
    if (callbacks.deliver(parts[0], parts[2], new String(body, StandardCharsets.UTF_8))) {
      log.info("workflow {}: callback for step {} delivered", parts[0], parts[2]);
      json(ex, 202, Map.of("workflow", parts[0], "step", parts[2], "delivered", true));
    } else {
      json(ex, 404, Map.of("error", "no unfinished workflow " + parts[0]));
    }
  }

  private void dlqOperation(HttpExchange ex, String path) throws IOException {
    if (token == null || deadLetters == null) {
      json(
          ex,
          404,
          Map.of("error", "dead-letter operations are disabled: set admin.token to enable them"));
      return;
    }
    if (!authorized(ex)) {
      ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"invalidator\"");
      json(ex, 401, Map.of("error", "a valid 'Authorization: Bearer <admin.token>' is required"));
      return;
    }
    String[] parts = path.substring("/api/dlq/".length()).split("/");
    if (parts.length != 2) {
      json(ex, 404, Map.of("error", "use POST /api/dlq/<id>/redrive or /api/dlq/<id>/drop"));
      return;
    }
    String id = parts[0];
    try {
      switch (parts[1]) {
        case "redrive" -> {
          String newId = deadLetters.redrive(id);
          if (newId == null) {
            json(ex, 404, Map.of("error", "no dead letter " + id));
          } else {
            log.info("dead letter {} redriven as {}", id, newId);
            json(ex, 200, Map.of("redriven", id, "stream_id", newId));
          }
        }
        case "drop" -> {
          if (deadLetters.drop(id)) {
            log.info("dead letter {} dropped", id);
            json(ex, 200, Map.of("dropped", id));
          } else {
            json(ex, 404, Map.of("error", "no dead letter " + id));
          }
        }
        default -> json(ex, 404, Map.of("error", "unknown operation " + parts[1]));
      }
    } catch (IllegalArgumentException e) {
      json(ex, 400, Map.of("error", e.getMessage()));
    }
  }

  private boolean authorized(HttpExchange ex) {
    String header = ex.getRequestHeaders().getFirst("Authorization");
    if (header == null || !header.startsWith("Bearer ")) {
      return false;
    }
    byte[] given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    return MessageDigest.isEqual(given, token);
  }

  private void staticFile(HttpExchange ex, String path) throws IOException {
    String name = STATIC.get(path);
    if (name == null) {
      send(ex, 404, "text/plain; charset=utf-8", "not found\n");
      return;
    }
    try (InputStream in = AdminServer.class.getResourceAsStream("/status-page/" + name)) {
      if (in == null) {
        send(ex, 500, "text/plain; charset=utf-8", "missing resource " + name + "\n");
        return;
      }
      String type =
          name.endsWith(".html")
              ? "text/html; charset=utf-8"
              : name.endsWith(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
      ex.getResponseHeaders().set("Cache-Control", "no-cache");
      send(ex, 200, type, in.readAllBytes());
    }
  }

  private static void json(HttpExchange ex, int code, Object body) throws IOException {
    send(ex, code, "application/json", JSON.writeValueAsBytes(body));
  }

  private static void send(HttpExchange ex, int code, String type, String body) throws IOException {
    send(ex, code, type, body.getBytes(StandardCharsets.UTF_8));
  }

  private static void send(HttpExchange ex, int code, String type, byte[] body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    boolean head = ex.getRequestMethod().equals("HEAD");
    ex.sendResponseHeaders(code, head ? -1 : body.length);
    if (!head) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
