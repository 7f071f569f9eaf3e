package dev.invalidator.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.invalidator.http.CdnProvider;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The demo's CDN: a real HTTP server on loopback that answers one provider's purge-by-tag API and
 * checks every request against that API's documented shape (method, path, credentials, the tag list
 * and its limits; for Akamai the EdgeGrid signature, recomputed here). A request of the wrong shape
 * is answered 400 and counted as refused: the demo fails when any was. Every {@code
 * throttleEvery}-th well-formed request is answered 429 with {@code Retry-After: 1} instead, as a
 * provider's rate limiter would, and its tags are not purged.
 *
 * <p>It records when each tag was last purged (on {@link System#nanoTime()}), so the demo can check
 * after draining that no tag was written after its last purge.
 */
final class FakeCdn implements AutoCloseable {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final DateTimeFormatter EDGEGRID_TIMESTAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HH:mm:ss+0000", Locale.ROOT);
  private static final int AKAMAI_MAX_BODY = 50_000;

  private final CdnProvider provider;
  private final int throttleEvery;
  private final HttpServer server;
  private final ExecutorService executor;
  private final String service;
  private final String token;
  private final String clientToken;
  private final String clientSecret;
  private final String accessToken;

  private final AtomicLong received = new AtomicLong();
  final LongAdder purgeRequests = new LongAdder();
  final LongAdder tagsPurged = new LongAdder();
  final LongAdder throttled = new LongAdder();
  final LongAdder refused = new LongAdder();
  private final AtomicReference<String> lastRefusal = new AtomicReference<>();
  private final Map<String, Long> lastPurgeNanos = new ConcurrentHashMap<>();

  private FakeCdn(CdnProvider provider, int throttleEvery) throws IOException {
    this.provider = provider;
    this.throttleEvery = throttleEvery;
    SecureRandom random = new SecureRandom();
    this.service = "demo" + hex(random, 8);
    this.token = "demo-token-" + hex(random, 16);
    this.clientToken = "akab-demo-client-" + hex(random, 8);
    this.clientSecret = Base64.getEncoder().encodeToString(bytes(random, 32));
    this.accessToken = "akab-demo-access-" + hex(random, 8);
    this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    this.executor = Executors.newFixedThreadPool(2, r -> daemonThread(r, "fake-cdn"));
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
  }

  /**
   * Starts a fake of {@code provider} on a free loopback port.
   *
   * @param throttleEvery answer every n-th well-formed request 429; 0 never
   */
  static FakeCdn start(CdnProvider provider, int throttleEvery) throws IOException {
    if (throttleEvery < 0) {
      throw new IllegalArgumentException("throttleEvery must be >= 0, got " + throttleEvery);
    }
    return new FakeCdn(provider, throttleEvery);
  }

  /** The {@code targets.cdn.*} settings that point the daemon's CDN target at this server. */
  Map<String, String> settings() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("targets.cdn.provider", provider.label());
    m.put("targets.cdn.endpoint", endpoint());
    if (provider == CdnProvider.AKAMAI) {
      m.put("targets.cdn.akamai.clientToken", clientToken);
      m.put("targets.cdn.akamai.clientSecret", clientSecret);
      m.put("targets.cdn.akamai.accessToken", accessToken);
    } else {
      m.put("targets.cdn.service", service);
      m.put("targets.cdn.token", token);
    }
    return m;
  }

  String endpoint() {
    String base = "http://127.0.0.1:" + server.getAddress().getPort();
    return provider == CdnProvider.CLOUDFLARE ? base + "/client/v4" : base;
  }

  CdnProvider provider() {
    return provider;
  }

  /** The tag the provider's default template renders for a tenant's payload tag. */
  String rendered(String tenant, String tag) {
    return provider.defaultTagTemplate().replace("{tenant}", tenant).replace("{tag}", tag);
  }

  /** When {@code tag} was last purged (a {@link System#nanoTime()} reading), or null. */
  Long lastPurged(String tag) {
    return lastPurgeNanos.get(tag);
  }

  /** Why the last refused request was refused, or null when none was. */
  String lastRefusal() {
    return lastRefusal.get();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  private void handle(HttpExchange ex) throws IOException {
    long now = System.nanoTime();
    try (ex) {
      byte[] body;
      try (InputStream in = ex.getRequestBody()) {
        body = in.readAllBytes();
      }
      List<String> tags;
      try {
        tags = check(ex, body);
      } catch (Refused r) {
        refused.increment();
        lastRefusal.set(r.getMessage());
        respond(ex, 400, error(r.getMessage()));
        return;
      }
      long n = received.incrementAndGet();
      if (throttleEvery > 0 && n % throttleEvery == 0) {
        throttled.increment();
        ex.getResponseHeaders().set("Retry-After", "1");
        respond(
            ex, 429, error("rate limited by the demo's fake CDN (every " + throttleEvery + ")"));
        return;
      }
      purgeRequests.increment();
      tagsPurged.add(tags.size());
      for (String tag : tags) {
        lastPurgeNanos.merge(tag, now, Math::max);
      }
      respond(ex, provider == CdnProvider.AKAMAI ? 201 : 200, success(tags));
    }
  }

  /** The request's tags, or {@link Refused} naming what does not match the provider's API. */
  private List<String> check(HttpExchange ex, byte[] body) throws Refused {
    if (!"POST".equals(ex.getRequestMethod())) {
      throw new Refused("method must be POST, got " + ex.getRequestMethod());
    }
    String path = ex.getRequestURI().getRawPath();
    if (ex.getRequestURI().getRawQuery() != null) {
      throw new Refused("no query string expected");
    }
    switch (provider) {
      case FASTLY:
        {
          require(
              path.equals("/service/" + service + "/purge"), "path must be /service/<id>/purge");
          require(token.equals(header(ex, "Fastly-Key")), "Fastly-Key missing or wrong");
          String soft = ex.getRequestHeaders().getFirst("Fastly-Soft-Purge");
          require(soft == null || soft.equals("1"), "Fastly-Soft-Purge must be 1 when present");
          require(body.length == 0, "purge by Surrogate-Key takes no body");
          String keys = header(ex, "Surrogate-Key");
          require(keys != null && !keys.isEmpty(), "Surrogate-Key missing");
          List<String> tags = List.of(keys.split(" ", -1));
          return checkTags(tags, 256, 1024);
        }
      case CLOUDFLARE:
        {
          require(
              path.equals("/client/v4/zones/" + service + "/purge_cache"),
              "path must be /client/v4/zones/<zone>/purge_cache");
          require(
              ("Bearer " + token).equals(header(ex, "Authorization")),
              "Authorization: Bearer <token> missing or wrong");
          return checkTags(jsonList(ex, body, "tags"), 100, 1024);
        }
      case AKAMAI:
        {
          require(
              path.equals("/ccu/v3/invalidate/tag/production")
                  || path.equals("/ccu/v3/invalidate/tag/staging"),
              "path must be /ccu/v3/invalidate/tag/{production|staging}");
          require(body.length <= AKAMAI_MAX_BODY, "body over 50,000 bytes");
          checkEdgeGrid(ex, body);
          return checkTags(jsonList(ex, body, "objects"), Integer.MAX_VALUE, 128);
        }
      default:
        throw new AssertionError(provider);
    }
  }

  private List<String> jsonList(HttpExchange ex, byte[] body, String field) throws Refused {
    String type = header(ex, "Content-Type");
    require(
        type != null && type.toLowerCase(Locale.ROOT).startsWith("application/json"),
        "Content-Type must be application/json");
    JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (IOException e) {
      throw new Refused("body is not JSON: " + e.getMessage());
    }
    require(
        root != null && root.isObject() && root.size() == 1 && root.path(field).isArray(),
        "body must be {\"" + field + "\":[...]}");
    List<String> out = new ArrayList<>();
    for (JsonNode n : root.get(field)) {
      require(n.isTextual(), field + " must hold strings");
      out.add(n.asText());
    }
    return out;
  }

  private List<String> checkTags(List<String> tags, int maxTags, int maxLength) throws Refused {
    require(!tags.isEmpty(), "no tags");
    require(tags.size() <= maxTags, tags.size() + " tags in one request; at most " + maxTags);
    for (String t : tags) {
      require(!t.isEmpty() && t.length() <= maxLength, "tag length must be 1.." + maxLength);
      for (int i = 0; i < t.length(); i++) {
        char c = t.charAt(i);
        boolean ok =
            c >= 0x21
                && c <= 0x7e
                && switch (provider) {
                  case FASTLY -> true;
                  case CLOUDFLARE -> c != ',';
                  case AKAMAI -> Character.isLetterOrDigit(c) || "!#$%&'+-.^_`|~".indexOf(c) >= 0;
                };
        require(ok, "tag '" + t + "' holds a character " + provider.label() + " does not allow");
      }
    }
    return tags;
  }

  /** Recomputes the EG1-HMAC-SHA256 signature from the request as received. */
  private void checkEdgeGrid(HttpExchange ex, byte[] body) throws Refused {
    String auth = header(ex, "Authorization");
    String prefix = "EG1-HMAC-SHA256 ";
    require(auth != null && auth.startsWith(prefix), "Authorization must be EG1-HMAC-SHA256");
    Map<String, String> fields = new LinkedHashMap<>();
    for (String part : auth.substring(prefix.length()).split(";")) {
      int eq = part.indexOf('=');
      require(eq > 0, "Authorization field without '='");
      fields.put(part.substring(0, eq), part.substring(eq + 1));
    }
    require(
        List.copyOf(fields.keySet())
            .equals(List.of("client_token", "access_token", "timestamp", "nonce", "signature")),
        "Authorization fields must be client_token, access_token, timestamp, nonce, signature");
    require(clientToken.equals(fields.get("client_token")), "client_token wrong");
    require(accessToken.equals(fields.get("access_token")), "access_token wrong");
    String timestamp = fields.get("timestamp");
    try {
      Instant at = LocalDateTime.parse(timestamp, EDGEGRID_TIMESTAMP).toInstant(ZoneOffset.UTC);
      require(
          Duration.between(at, Instant.now()).abs().compareTo(Duration.ofMinutes(1)) < 0,
          "timestamp more than a minute off");
    } catch (DateTimeParseException e) {
      throw new Refused("timestamp is not yyyyMMdd'T'HH:mm:ss+0000");
    }
    require(!fields.get("nonce").isEmpty(), "nonce empty");
    String signed = auth.substring(0, auth.indexOf("signature="));
    String host = header(ex, "Host");
    require(host != null, "Host missing");
    String data =
        String.join(
            "\t",
            "POST",
            "http",
            host.toLowerCase(Locale.ROOT),
            ex.getRequestURI().getRawPath(),
            "",
            Base64.getEncoder().encodeToString(sha256(body)),
            signed);
    String key = base64Hmac(clientSecret, timestamp);
    require(
        base64Hmac(key, data).equals(fields.get("signature")),
        "EdgeGrid signature does not match the request");
  }

  private static String header(HttpExchange ex, String name) {
    return ex.getRequestHeaders().getFirst(name);
  }

  private static void require(boolean ok, String problem) throws Refused {
    if (!ok) {
      throw new Refused(problem);
    }
  }

  private byte[] success(List<String> tags) {
    ObjectNode root = MAPPER.createObjectNode();
    String id = HexFormat.of().toHexDigits(received.get());
    switch (provider) {
      case FASTLY -> tags.forEach(t -> root.put(t, "purge-" + id));
      case CLOUDFLARE -> {
        root.put("success", true);
        root.putArray("errors");
        root.putArray("messages");
        root.putObject("result").put("id", id);
      }
      case AKAMAI -> {
        root.put("httpStatus", 201);
        root.put("detail", "Request accepted");
        root.put("estimatedSeconds", 5);
        root.put("purgeId", id);
        root.put("supportId", "demo-" + id);
      }
    }
    return root.toString().getBytes(StandardCharsets.UTF_8);
  }

  private byte[] error(String message) {
    ObjectNode root = MAPPER.createObjectNode();
    if (provider == CdnProvider.CLOUDFLARE) {
      root.put("success", false);
      root.putArray("errors").addObject().put("code", 400).put("message", message);
    } else {
      root.put("detail", message);
    }
    return root.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void respond(HttpExchange ex, int status, byte[] body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, body.length);
    ex.getResponseBody().write(body);
  }

  private static byte[] sha256(byte[] body) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(body);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String base64Hmac(String key, String data) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return Base64.getEncoder().encodeToString(mac.doFinal(data.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String hex(SecureRandom random, int bytes) {
    return HexFormat.of().formatHex(bytes(random, bytes));
  }

  private static byte[] bytes(SecureRandom random, int n) {
    byte[] b = new byte[n];
    random.nextBytes(b);
    return b;
  }

  private static Thread daemonThread(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** A request that does not match the provider's API. */
  private static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;

    Refused(String message) {
      super(message, null, false, false);
    }
  }
}
