package dev.invalidator.spring;

import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingClass;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.data.redis.connection.RedisPassword;
import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.util.ClassUtils;

/**
 * The optional embedded daemon ({@code invalidator.embedded.enabled=true}, off by default): the
 * relay and workers in the application's process, for small deployments, as an {@link
 * EmbeddedDaemon}. It needs invalidator-server on the class path (the starter's optional
 * dependency); without it the context fails to start, naming the artifact. The daemon reads the
 * application's database ({@code spring.datasource.url}, {@code username}, {@code password}) and
 * Redis (the {@link LettuceConnectionFactory}'s standalone host, port, database and credentials, or
 * {@code invalidator.embedded.redis-url}), and the outbox table, key prefix and fence TTL of the
 * starter's {@link OutboxWriter} and {@link CacheClient} beans; {@code
 * invalidator.embedded.settings.*} sets any other daemon setting.
 */
@AutoConfiguration(after = InvalidatorAutoConfiguration.class)
@ConditionalOnExpression("${invalidator.enabled:true} and ${invalidator.embedded.enabled:false}")
public class InvalidatorEmbeddedAutoConfiguration {
  /** The artifact that carries the daemon. */
  static final String SERVER_ARTIFACT = "dev.invalidator:invalidator-server";

  private static final String DAEMON_CLASS = "dev.invalidator.server.Daemon";

  /**
   * Enabled without the daemon on the class path: fails the context's start, saying what to add.
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnMissingClass(DAEMON_CLASS)
  static class DaemonMissing {
    @Bean
    Object invalidatorEmbeddedDaemon() {
      throw new IllegalStateException(
          "invalidator.embedded.enabled=true needs the daemon on the class path: add the"
              + " dependency "
              + SERVER_ARTIFACT
              + " (same version as the starter), or set invalidator.embedded.enabled=false");
    }
  }

  /** The daemon, in this process. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = DAEMON_CLASS)
  static class DaemonPresent {
    @Bean
    @ConditionalOnMissingBean
    EmbeddedDaemon invalidatorEmbeddedDaemon(
        InvalidatorProperties properties,
        Environment environment,
        ObjectProvider<OutboxWriter> outboxWriter,
        ObjectProvider<CacheClient> cacheClient,
        ConfigurableListableBeanFactory beanFactory) {
      InvalidatorProperties.Embedded e = properties.getEmbedded();
      Map<String, String> settings =
          settings(properties, environment, outboxWriter, cacheClient, beanFactory);
      return new EmbeddedDaemon(settings, e.getRole(), e.isMigrate(), e.getAdminPort() != null);
    }
  }

  static Map<String, String> settings(
      InvalidatorProperties properties,
      Environment environment,
      ObjectProvider<OutboxWriter> outboxWriter,
      ObjectProvider<CacheClient> cacheClient,
      ConfigurableListableBeanFactory beanFactory) {
    InvalidatorProperties.Embedded e = properties.getEmbedded();
    Map<String, String> s = new LinkedHashMap<>();
    String dbUrl = environment.getProperty("spring.datasource.url");
    if (dbUrl != null && !dbUrl.isBlank()) {
      s.put("postgres.url", dbUrl);
      putIfSet(s, "postgres.user", environment.getProperty("spring.datasource.username"));
      putIfSet(s, "postgres.password", environment.getProperty("spring.datasource.password"));
    } else if (!e.getSettings().containsKey("postgres.url")
        && !e.getSettings().containsKey("database.url")) {
      throw new IllegalStateException(
          "invalidator.embedded: the daemon needs the database's URL: set spring.datasource.url"
              + " (or invalidator.embedded.settings.database.url)");
    }
    // The outbox table the application's writer appends to, else the starter's setting.
    OutboxWriter writer = outboxWriter.getIfAvailable();
    OutboxTable table =
        writer != null
            ? writer.table()
            : OutboxTable.of(properties.getOutbox().getSchema(), properties.getOutbox().getTable());
    s.put("postgres.schema", table.schema());
    s.put("postgres.table", table.table());
    String redisUrl = e.getRedisUrl();
    if ((redisUrl == null || redisUrl.isBlank())
        && ClassUtils.isPresent(
            "org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory",
            beanFactory.getBeanClassLoader())) {
      redisUrl = LettuceUrl.of(beanFactory);
    }
    if (redisUrl != null && !redisUrl.isBlank()) {
      s.put("redis.url", redisUrl);
    } else if (!e.getSettings().containsKey("redis.url")) {
      throw new IllegalStateException(
          "invalidator.embedded: the daemon needs Redis: configure spring.data.redis.* (a"
              + " LettuceConnectionFactory) or set invalidator.embedded.redis-url");
    }
    // The key prefix and fence TTL the application's CacheClient uses (it refuses a daemon whose
    // fence TTL differs), else the starter's settings.
    CacheClient cache = cacheClient.getIfAvailable();
    s.put(
        "redis.prefix",
        cache != null ? cache.keyScheme().prefix() : properties.getRedis().getPrefix());
    InvalidatorProperties.Cache c = properties.getCache();
    s.put("cache.entryTtl", c.getEntryTtl().toMillis() + "ms");
    s.put("cache.fillDeadline", c.getFillDeadline().toMillis() + "ms");
    if (cache != null) {
      s.put("cache.fenceTtl", cache.fenceTtl().toMillis() + "ms");
    } else if (c.getFenceTtl() != null) {
      s.put("cache.fenceTtl", c.getFenceTtl().toMillis() + "ms");
    }
    s.put("nearCache.channels", Integer.toString(properties.getNearCache().getChannels()));
    s.put("worker.group", properties.getHealth().getGroup());
    if (e.getAdminPort() != null) {
      s.put("admin.port", Integer.toString(e.getAdminPort()));
    }
    s.putAll(e.getSettings());
    return s;
  }

  private static void putIfSet(Map<String, String> s, String key, String value) {
    if (value != null && !value.isEmpty()) {
      s.put(key, value);
    }
  }

  /** The redis:// URL of the application's Lettuce connection factory (standalone only). */
  static final class LettuceUrl {
    private LettuceUrl() {}

    static String of(ConfigurableListableBeanFactory beanFactory) {
      LettuceConnectionFactory f =
          beanFactory.getBeanProvider(LettuceConnectionFactory.class).getIfUnique();
      if (f == null) {
        return null;
      }
      if (f.getSentinelConfiguration() != null || f.getClusterConfiguration() != null) {
        throw new IllegalStateException(
            "invalidator.embedded: the application's Redis is Sentinel or Cluster; set"
                + " invalidator.embedded.redis-url (and invalidator.embedded.settings.redis.cluster"
                + " for a cluster)");
      }
      RedisStandaloneConfiguration c = f.getStandaloneConfiguration();
      StringBuilder b = new StringBuilder(f.isUseSsl() ? "rediss://" : "redis://");
      RedisPassword password = c.getPassword();
      if (password.isPresent()) {
        if (c.getUsername() != null && !c.getUsername().isEmpty()) {
          b.append(encode(c.getUsername()));
        }
        b.append(':').append(encode(new String(password.get()))).append('@');
      }
      String host = c.getHostName();
      b.append(host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host)
          .append(':')
          .append(c.getPort())
          .append('/')
          .append(c.getDatabase());
      return b.toString();
    }

    private static String encode(String s) {
      return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
  }
}
