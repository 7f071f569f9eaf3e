package dev.invalidator.server;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.util.Objects;
import java.util.Properties;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * A {@link DataSource} without a pool: every {@link #getConnection()} opens a new driver connection
 * ({@link DriverManager}), which its caller closes. For a command that runs a few queries and
 * exits, where a pool's start (its threads, its idle connections opened in the background) costs
 * more than the connections it would save.
 */
final class UnpooledDataSource implements DataSource {
  private final String url;
  private final Properties properties = new Properties();
  private volatile int loginTimeoutSeconds;

  /**
   * @param user empty for none (the URL's, or the driver's default)
   * @param password empty for none
   */
  UnpooledDataSource(String url, String user, String password, Duration loginTimeout) {
    this.url = Objects.requireNonNull(url, "url");
    if (!user.isEmpty()) {
      properties.setProperty("user", user);
    }
    if (!password.isEmpty()) {
      properties.setProperty("password", password);
    }
    this.loginTimeoutSeconds = (int) Math.max(1, loginTimeout.toSeconds());
  }

  @Override
  public Connection getConnection() throws SQLException {
    Properties p = new Properties();
    p.putAll(properties);
    if (url.startsWith("jdbc:postgresql:")) {
      // PostgreSQL's driver waits without a bound otherwise; MariaDB's gives up after 30 s.
      p.putIfAbsent("loginTimeout", String.valueOf(loginTimeoutSeconds));
    }
    return DriverManager.getConnection(url, p);
  }

  @Override
  public Connection getConnection(String username, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException("UnpooledDataSource connects as configured only");
  }

  @Override
  public PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {
    throw new UnsupportedOperationException("UnpooledDataSource has no log writer");
  }

  @Override
  public void setLoginTimeout(int seconds) {
    this.loginTimeoutSeconds = seconds;
  }

  @Override
  public int getLoginTimeout() {
    return loginTimeoutSeconds;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException("UnpooledDataSource logs nothing");
  }

  @Override
  public <T> T unwrap(Class<T> iface) throws SQLException {
    if (iface.isInstance(this)) {
      return iface.cast(this);
    }
    throw new SQLException("UnpooledDataSource does not wrap " + iface.getName());
  }

  @Override
  public boolean isWrapperFor(Class<?> iface) {
    return iface.isInstance(this);
  }
}
