package dev.invalidator.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Loads configuration in layers, later ones winning: built-in defaults, the YAML file, environment
 * variables ({@code INVALIDATOR_<SECTION>_<KEY>}, e.g. {@code INVALIDATOR_RELAY_BATCH_SIZE} for
 * {@code relay.batchSize}), then command-line options. Unknown settings in the file are an error,
 * so a typo cannot silently leave a default in force.
 */
public final class ConfigLoader {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private static final String KAFKA_PROPERTIES_ENV = "INVALIDATOR_KAFKA_PROPERTIES_";

  private ConfigLoader() {}

  /** Parses a duration such as {@code 250ms}, {@code 5s}, {@code 2m}, {@code 24h}. */
  public static java.time.Duration parseDuration(String setting, String text) {
    return Durations.parse(setting, text);
  }

  /** {@code relay.batchSize} becomes {@code INVALIDATOR_RELAY_BATCH_SIZE}. */
  public static String envName(String setting) {
    StringBuilder b = new StringBuilder("INVALIDATOR_");
    for (char c : setting.toCharArray()) {
      if (c == '.') {
        b.append('_');
      } else if (Character.isUpperCase(c)) {
        b.append('_').append(c);
      } else {
        b.append(Character.toUpperCase(c));
      }
    }
    return b.toString();
  }

  /**
   * Loads the configuration.
   *
   * @param file a YAML file, or null for none
   * @param env the environment (usually {@code System.getenv()})
   * @param overrides command-line values by setting name; null values are ignored
   */
  public static InvalidatorConfig load(
      Path file, Map<String, String> env, Map<String, String> overrides) {
    Map<String, String> values = new LinkedHashMap<>();
    for (Setting s : Setting.ALL) {
      values.put(s.name(), s.defaultValue());
    }
    if (file != null) {
      values.putAll(readYaml(file));
    }
    for (Setting s : Setting.ALL) {
      String v = env.get(s.envName());
      if (v != null) {
        values.put(s.name(), v);
      }
    }
    // Kafka client settings are passed through: INVALIDATOR_KAFKA_PROPERTIES_SASL_JAAS_CONFIG is
    // kafka.properties.sasl.jaas.config (Kafka's names are lower-case words joined by dots).
    env.forEach(
        (k, v) -> {
          if (k.startsWith(KAFKA_PROPERTIES_ENV) && k.length() > KAFKA_PROPERTIES_ENV.length()) {
            String name =
                k.substring(KAFKA_PROPERTIES_ENV.length())
                    .toLowerCase(java.util.Locale.ROOT)
                    .replace('_', '.');
            values.put(InvalidatorConfig.Kafka.PROPERTIES_PREFIX + name, v);
          }
        });
    overrides.forEach(
        (k, v) -> {
          if (v != null) {
            values.put(k, v);
          }
        });
    return InvalidatorConfig.from(values);
  }

  static Map<String, String> readYaml(Path file) {
    JsonNode root;
    try {
      root = YAML.readTree(Files.readString(file));
    } catch (IOException e) {
      throw new ConfigException("--config", "cannot read " + file + ": " + e.getMessage());
    }
    Map<String, String> out = new LinkedHashMap<>();
    if (root == null || root.isNull() || root.isMissingNode()) {
      return out;
    }
    // The one structured setting: the workflow definitions, kept as JSON text for WorkflowsConfig.
    JsonNode defs = root.path("workflows").path("definitions");
    if (!defs.isMissingNode() && root.get("workflows") instanceof ObjectNode wf) {
      wf.remove("definitions");
      out.put("workflows.definitions", defs.isNull() ? "" : defs.toString());
    }
    flatten("", root, out);
    Set<String> known = new TreeSet<>();
    Setting.ALL.forEach(s -> known.add(s.name()));
    for (String key : out.keySet()) {
      if (!known.contains(key) && !key.startsWith(InvalidatorConfig.Kafka.PROPERTIES_PREFIX)) {
        throw new ConfigException(key, "unknown setting in " + file + "; known settings: " + known);
      }
    }
    return out;
  }

  private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
    if (node.isObject()) {
      Iterator<Map.Entry<String, JsonNode>> it = node.properties().iterator();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out);
      }
    } else if (node.isNull()) {
      out.put(prefix, "");
    } else if (node.isValueNode()) {
      out.put(prefix, node.asText());
    } else {
      throw new ConfigException(prefix, "must be a single value, not a list");
    }
  }
}
