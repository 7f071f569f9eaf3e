package dev.invalidator.spring;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.data.redis.RedisAutoConfiguration;
import org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration;
import org.springframework.boot.autoconfigure.jdbc.DataSourceTransactionManagerAutoConfiguration;
import org.springframework.boot.autoconfigure.transaction.TransactionAutoConfiguration;

/** Spring Boot 3.5's own auto-configurations the starter's test runs with, and the starter's. */
final class BootAutoConfigurations {
  private BootAutoConfigurations() {}

  static AutoConfigurations withSpringBoots() {
    return AutoConfigurations.of(
        DataSourceAutoConfiguration.class,
        DataSourceTransactionManagerAutoConfiguration.class,
        TransactionAutoConfiguration.class,
        RedisAutoConfiguration.class,
        InvalidatorAutoConfiguration.class,
        InvalidatorHealthAutoConfiguration.class);
  }
}
