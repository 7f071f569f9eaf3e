package dev.invalidator.spring;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.data.redis.autoconfigure.DataRedisAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.DataSourceTransactionManagerAutoConfiguration;
import org.springframework.boot.transaction.autoconfigure.TransactionAutoConfiguration;

/** Spring Boot 4.0's own auto-configurations the starter's test runs with, and the starter's. */
final class BootAutoConfigurations {
  private BootAutoConfigurations() {}

  static AutoConfigurations withSpringBoots() {
    return AutoConfigurations.of(
        DataSourceAutoConfiguration.class,
        DataSourceTransactionManagerAutoConfiguration.class,
        TransactionAutoConfiguration.class,
        DataRedisAutoConfiguration.class,
        InvalidatorAutoConfiguration.class,
        InvalidatorHealthAutoConfiguration.class);
  }
}
