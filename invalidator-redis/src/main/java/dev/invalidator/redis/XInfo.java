package dev.invalidator.redis;

import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code XINFO GROUPS} read one way: flat key-value arrays in RESP2, maps in RESP3. */
final class XInfo {
  private XInfo() {}

  /** Every consumer group of {@code stream}, each as its field map. */
  static List<Map<String, Object>> groups(
      RedisClusterCommands<String, String> sync, String stream) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Object g : sync.xinfoGroups(stream)) {
      out.add(asMap(g));
    }
    return out;
  }

  /** The field map of {@code group} on {@code stream}, or an empty map when it does not exist. */
  static Map<String, Object> group(
      RedisClusterCommands<String, String> sync, String stream, String group) {
    for (Map<String, Object> info : groups(sync, stream)) {
      if (group.equals(String.valueOf(info.get("name")))) {
        return info;
      }
    }
    return Map.of();
  }

  /** A numeric field, or {@code absent} when missing or not a number (6.2 has no {@code lag}). */
  static long number(Object value, long absent) {
    if (value instanceof Number n) {
      return n.longValue();
    }
    if (value == null) {
      return absent;
    }
    try {
      return Long.parseLong(String.valueOf(value));
    } catch (NumberFormatException ex) {
      return absent;
    }
  }

  private static Map<String, Object> asMap(Object reply) {
    Map<String, Object> out = new HashMap<>();
    if (reply instanceof Map<?, ?> map) {
      map.forEach((k, v) -> out.put(String.valueOf(k), v));
    } else if (reply instanceof List<?> list) {
      for (int i = 0; i + 1 < list.size(); i += 2) {
        out.put(String.valueOf(list.get(i)), list.get(i + 1));
      }
    }
    return out;
  }
}
