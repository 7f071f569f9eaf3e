package dev.invalidator.server.config;

import dev.invalidator.core.InvalidatorException;

/**
 * A configuration value is wrong. The message names the setting and its environment variable
 * ({@code configuration: worker.block (env INVALIDATOR_WORKER_BLOCK): ...}), or, for a command-line
 * option such as {@code --duration}, only the option ({@code --duration: ...}): an option has no
 * variable.
 */
public final class ConfigException extends InvalidatorException {
  private static final long serialVersionUID = 1L;

  private final String setting;

  /**
   * @param setting a configuration key ({@code worker.block}) or a command-line option ({@code
   *     --duration})
   */
  public ConfigException(String setting, String message) {
    super(describe(setting) + ": " + message, false);
    this.setting = setting;
  }

  private static String describe(String setting) {
    if (setting.startsWith("-")) {
      return setting;
    }
    return "configuration: " + setting + " (env " + ConfigLoader.envName(setting) + ")";
  }

  public String setting() {
    return setting;
  }
}
