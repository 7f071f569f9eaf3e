package dev.invalidator.server.consistency;

import dev.invalidator.core.AggregateRef;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.OptionalLong;
import javax.sql.DataSource;

/**
 * The database side of a check: the configured query of an aggregate type ({@code
 * observer.queries}), with tenant and id bound as parameters, returning the row's current version.
 * Read-only, auto-commit, one short statement per read.
 */
public final class VersionQueries {
  private final DataSource dataSource;
  private final Map<String, String> queries;

  /**
   * @param queries per aggregate type, SQL with two parameters (tenant, then id) whose first column
   *     is the version
   */
  public VersionQueries(DataSource dataSource, Map<String, String> queries) {
    this.dataSource = dataSource;
    this.queries = Map.copyOf(queries);
  }

  /** True when a query is configured for the aggregate's type. */
  public boolean covers(String type) {
    return queries.containsKey(type);
  }

  /** The row's current version, or empty when there is no row. */
  public OptionalLong version(AggregateRef ref) throws SQLException {
    String sql = queries.get(ref.type());
    if (sql == null) {
      throw new IllegalArgumentException("no observer.queries entry for type " + ref.type());
    }
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, ref.tenantId());
      ps.setString(2, ref.id());
      ps.setQueryTimeout(5);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return OptionalLong.empty();
        }
        long v = rs.getLong(1);
        return rs.wasNull() ? OptionalLong.empty() : OptionalLong.of(v);
      }
    }
  }
}
