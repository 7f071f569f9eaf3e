package dev.invalidator.spring;

import dev.invalidator.core.KeyScheme;
import dev.invalidator.outbox.OutboxTable;
import dev.invalidator.outbox.OutboxWriter;
import dev.invalidator.redis.CacheClient;
import dev.invalidator.redis.NearCacheOptions;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisClient;
import io.micrometer.core.instrument.MeterRegistry;
import javax.sql.DataSource;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * Invalidator for Spring Boot 3.5 and 4.0 (this class is compiled into both starters): an {@link
 * OutboxWriter} ({@link SpringOutboxWriter}) that joins the current Spring transaction on the
 * application's {@link DataSource}, and a {@link CacheClient} on the application's Lettuce client
 * (Spring Data Redis's {@link LettuceConnectionFactory}) with its {@link MeterRegistry} when there
 * is one. Both are replaced by beans of the application's own; {@code invalidator.enabled=false}
 * turns the starter off. It starts nothing else: the relay and workers are the daemon's. The
 * Actuator health indicator is {@link InvalidatorHealthAutoConfiguration}'s, one per Spring Boot
 * generation (its interfaces moved in Spring Boot 4).
 *
 * <p>The ordering names both generations' auto-configurations: Spring Boot 4 moved them into
 * modules (spring-boot-jdbc, spring-boot-data-redis, spring-boot-micrometer-metrics), and a name
 * that is not on the class path is ignored.
 */
@AutoConfiguration(
    afterName = {
      // Spring Boot 3.5
      "org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration",
      "org.springframework.boot.autoconfigure.data.redis.RedisAutoConfiguration",
      "org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration",
      // Spring Boot 4.0
      "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
      "org.springframework.boot.data.redis.autoconfigure.DataRedisAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration"
    })
@ConditionalOnProperty(
    prefix = "invalidator",
    name = "enabled",
    havingValue = "true",
    matchIfMissing = true)
@EnableConfigurationProperties(InvalidatorProperties.class)
public class InvalidatorAutoConfiguration {

  /** The outbox writer of the application's transactions. */
  @Bean
  @ConditionalOnMissingBean(OutboxWriter.class)
  @ConditionalOnSingleCandidate(DataSource.class)
  public SpringOutboxWriter invalidatorOutboxWriter(
      InvalidatorProperties properties, DataSource dataSource) {
    InvalidatorProperties.Outbox o = properties.getOutbox();
    return new SpringOutboxWriter(OutboxTable.of(o.getSchema(), o.getTable()), dataSource);
  }

  /** The cache, on the application's Lettuce client. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(LettuceConnectionFactory.class)
  static class Cache {
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnBean(LettuceConnectionFactory.class)
    CacheClient invalidatorCacheClient(
        InvalidatorProperties properties,
        LettuceConnectionFactory connectionFactory,
        ObjectProvider<MeterRegistry> meterRegistry) {
      InvalidatorProperties.Cache c = properties.getCache();
      CacheClient.Builder b =
          CacheClient.builder()
              .redisClient(redisClient(connectionFactory))
              .keyScheme(new KeyScheme(properties.getRedis().getPrefix()))
              .entryTtl(c.getEntryTtl())
              .fillDeadline(c.getFillDeadline())
              .negativeTtl(c.getNegativeTtl())
              .fillLease(c.getFillLease())
              .tenantTag(c.isTenantTag());
      if (c.getFenceTtl() != null) {
        b.fenceTtl(c.getFenceTtl());
      }
      InvalidatorProperties.NearCache n = properties.getNearCache();
      if (n.isEnabled()) {
        b.nearCache(
            NearCacheOptions.defaults()
                .withChannels(n.getChannels())
                .withMaximumSize(n.getMaximumSize())
                .withTtl(n.getTtl())
                .withHeartbeatTimeout(n.getHeartbeatTimeout()));
      }
      meterRegistry.ifAvailable(b::meterRegistry);
      return b.build();
    }

    static RedisClient redisClient(LettuceConnectionFactory factory) {
      AbstractRedisClient client = factory.getNativeClient();
      if (client == null) {
        factory.start(); // not started yet: the client is created on start
        client = factory.getRequiredNativeClient();
      }
      if (client instanceof RedisClient standalone) {
        return standalone;
      }
      throw new IllegalStateException(
          "invalidator: CacheClient needs a standalone or Sentinel Redis (Lettuce RedisClient), but"
              + " the application's connection factory uses "
              + client.getClass().getSimpleName()
              + "; Redis Cluster is not supported by CacheClient yet (set invalidator.enabled=false"
              + " or define your own CacheClient bean)");
    }
  }
}
