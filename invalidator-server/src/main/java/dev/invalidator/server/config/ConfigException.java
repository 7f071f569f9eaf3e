package dev.invalidator.server.config;

import dev.invalidator.core.InvalidatorException;

/** A configuration value is wrong. The message names the setting and the environment variable. */
public final class ConfigException extends InvalidatorException {
  private static final long serialVersionUID = 1L;

  private final String setting;

  public ConfigException(String setting, String message) {
    super(
        "configuration: " + setting + " (env " + ConfigLoader.envName(setting) + "): " + message,
        false);
    this.setting = setting;
  }

  public String setting() {
    return setting;
  }
}
