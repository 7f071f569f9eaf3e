package dev.invalidator.spring;

import javax.sql.DataSource;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * Actuator health for Spring Boot 4.0 ({@code org.springframework.boot.health.contributor}): outbox
 * and stream lag, when Actuator (spring-boot-health) and Spring Data Redis are on the class path.
 * {@code invalidator.health.enabled=false} (or {@code invalidator.enabled=false}) turns it off.
 */
@AutoConfiguration(
    after = InvalidatorAutoConfiguration.class,
    afterName = {
      "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
      "org.springframework.boot.data.redis.autoconfigure.DataRedisAutoConfiguration"
    })
@ConditionalOnClass({HealthIndicator.class, LettuceConnectionFactory.class})
@ConditionalOnProperty(
    prefix = "invalidator",
    name = "enabled",
    havingValue = "true",
    matchIfMissing = true)
@EnableConfigurationProperties(InvalidatorProperties.class)
public class InvalidatorHealthAutoConfiguration {

  /** The indicator, on the application's DataSource and Lettuce client. */
  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnBean(LettuceConnectionFactory.class)
  @ConditionalOnSingleCandidate(DataSource.class)
  @ConditionalOnProperty(
      prefix = "invalidator.health",
      name = "enabled",
      havingValue = "true",
      matchIfMissing = true)
  public InvalidatorHealthIndicator invalidatorHealthIndicator(
      InvalidatorProperties properties,
      DataSource dataSource,
      LettuceConnectionFactory connectionFactory) {
    return new InvalidatorHealthIndicator(
        InvalidatorHealthCheck.of(properties, dataSource, connectionFactory));
  }
}
