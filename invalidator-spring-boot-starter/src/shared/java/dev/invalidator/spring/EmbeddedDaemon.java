package dev.invalidator.spring;

import dev.invalidator.core.WorkerListener;
import dev.invalidator.server.Daemon;
import dev.invalidator.server.config.ConfigLoader;
import dev.invalidator.server.config.InvalidatorConfig;
import dev.invalidator.server.config.Setting;
import java.net.URI;
import java.util.Locale;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The daemon (relay, workers or both) run inside the application: {@code
 * invalidator.embedded.enabled=true} with invalidator-server on the class path. It connects with
 * its own pool and Redis client to the application's database and Redis (the settings {@link
 * InvalidatorEmbeddedAutoConfiguration} derives), starts once the context's singletons exist and
 * stops, draining the batches in flight, before they are destroyed. The admin HTTP server runs only
 * when {@code invalidator.embedded.admin-port} is set.
 */
public class EmbeddedDaemon implements SmartLifecycle {
  /**
   * Started after the application's connection factories (Spring Data Redis's is phase 0) and
   * before the web server; stopped after the web server has drained its requests and before the
   * factories, so the last committed outbox rows are still relayed.
   */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

  private static final Logger log = LoggerFactory.getLogger(EmbeddedDaemon.class);

  private final Map<String, String> settings;
  private final Daemon.Role role;
  private final boolean migrate;
  private final boolean admin;
  private Daemon daemon;
  private URI adminUri;

  /**
   * @param settings the daemon's settings ({@code redis.url}, {@code postgres.table}, ...), over
   *     its defaults; the environment's {@code INVALIDATOR_*} variables are not read
   * @param role relay, worker or all
   * @param migrate create or upgrade the outbox table on start
   * @param admin start the admin HTTP server on {@code admin.port}
   */
  public EmbeddedDaemon(Map<String, String> settings, String role, boolean migrate, boolean admin) {
    this.settings = Map.copyOf(settings);
    // The daemon's loader ignores names it does not know; a misspelt setting must not silently
    // leave its default in force.
    java.util.Set<String> known = new java.util.TreeSet<>();
    Setting.ALL.forEach(s -> known.add(s.name()));
    for (String name : settings.keySet()) {
      if (!known.contains(name)) {
        throw new IllegalArgumentException(
            "invalidator.embedded.settings: unknown daemon setting '"
                + name
                + "'; known settings: "
                + known);
      }
    }
    this.role = role(role);
    this.migrate = migrate;
    this.admin = admin;
    // Validated now, so a bad setting fails the context's refresh before anything starts.
    config();
  }

  private static Daemon.Role role(String role) {
    try {
      return Daemon.Role.valueOf(role.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "invalidator.embedded.role: '" + role + "' must be relay, worker or all");
    }
  }

  private InvalidatorConfig config() {
    return ConfigLoader.load(null, Map.of(), settings);
  }

  @Override
  public synchronized void start() {
    if (daemon != null) {
      return;
    }
    Daemon d = Daemon.create(config(), role, WorkerListener.NONE, migrate);
    try {
      if (admin) {
        adminUri = d.start(false);
      } else {
        d.startWithoutAdmin();
      }
    } catch (RuntimeException e) {
      d.close();
      throw e;
    }
    daemon = d;
    log.info(
        "embedded invalidator daemon started: role {}, admin server {}",
        role.name().toLowerCase(Locale.ROOT),
        adminUri == null ? "off" : adminUri);
  }

  @Override
  public synchronized void stop() {
    if (daemon == null) {
      return;
    }
    try {
      daemon.close();
    } finally {
      daemon = null;
      adminUri = null;
    }
    log.info("embedded invalidator daemon stopped");
  }

  @Override
  public synchronized boolean isRunning() {
    return daemon != null;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }

  /** The running daemon, or null when stopped. */
  public synchronized Daemon daemon() {
    return daemon;
  }

  /** The admin server's address, or null when it is off (or the daemon is stopped). */
  public synchronized URI adminUri() {
    return adminUri;
  }
}
