package dev.invalidator.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.Map;

/** Where a run ran: hardware, JVM, server versions and the settings that decide fsync cost. */
final class MachineInfo {
  private MachineInfo() {}

  static Map<String, Object> collect(BenchEnvironment env) {
    Map<String, Object> m = new LinkedHashMap<>();
    OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    m.put("cores", Runtime.getRuntime().availableProcessors());
    m.put("cpu", cpuModel());
    if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
      m.put("memoryMb", sun.getTotalMemorySize() / (1024 * 1024));
    }
    m.put("os", os.getName() + " " + os.getVersion() + " " + os.getArch());
    m.put(
        "jvm",
        System.getProperty("java.vm.name")
            + " "
            + System.getProperty("java.runtime.version")
            + " ("
            + System.getProperty("java.vendor")
            + ")");
    m.put("maxHeapMb", Runtime.getRuntime().maxMemory() / (1024 * 1024));
    m.put("loadAverageAtStart", round(os.getSystemLoadAverage()));
    if (env.mysql()) {
      m.put("mysql", mysql(env));
    } else {
      m.put("postgres", postgres(env));
    }
    m.put("redis", redis(env));
    return m;
  }

  static double loadAverage() {
    return round(ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
  }

  private static Map<String, Object> postgres(BenchEnvironment env) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("embedded", env.embeddedPostgres());
    try (Connection c = env.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT name, setting FROM pg_settings WHERE name IN ('server_version',"
                    + " 'fsync', 'synchronous_commit', 'shared_buffers', 'max_connections')"
                    + " ORDER BY name")) {
      while (rs.next()) {
        m.put(rs.getString(1), rs.getString(2));
      }
    } catch (SQLException ex) {
      m.put("error", ex.getMessage());
    }
    return m;
  }

  private static Map<String, Object> mysql(BenchEnvironment env) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("embedded", false);
    try (Connection c = env.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT VERSION(), @@innodb_flush_log_at_trx_commit, @@sync_binlog,"
                    + " @@innodb_buffer_pool_size, @@max_connections")) {
      rs.next();
      m.put("server_version", rs.getString(1));
      m.put("innodb_flush_log_at_trx_commit", rs.getString(2));
      m.put("sync_binlog", rs.getString(3));
      m.put("innodb_buffer_pool_size", rs.getString(4));
      m.put("max_connections", rs.getString(5));
    } catch (SQLException ex) {
      m.put("error", ex.getMessage());
    }
    return m;
  }

  private static Map<String, Object> redis(BenchEnvironment env) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("embedded", env.embeddedRedis());
    String info = env.connection().sync().info("server");
    m.put("redis_version", field(info, "redis_version"));
    String persistence = env.connection().sync().info("persistence");
    m.put("aof_enabled", field(persistence, "aof_enabled"));
    return m;
  }

  static String field(String info, String name) {
    for (String line : info.split("\r?\n")) {
      if (line.startsWith(name + ":")) {
        return line.substring(name.length() + 1).trim();
      }
    }
    return "unknown";
  }

  private static String cpuModel() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
        if (line.startsWith("model name")) {
          return line.substring(line.indexOf(':') + 1).trim();
        }
      }
    } catch (IOException | RuntimeException ex) {
      // not Linux: leave it out
    }
    return "unknown";
  }

  private static double round(double d) {
    return Math.round(d * 100) / 100.0;
  }
}
