package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code java} code block of the README compiles against the library as built. A block is a
 * fragment: it is compiled as the body of a method that has the names the README's prose gives it
 * ({@code redisClient} is Lettuce's {@code RedisClient}, {@code dataSource} the application's pool,
 * and so on), and nothing else.
 */
class ReadmeSamplesTest {
  private static final Pattern BLOCK = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL);

  private static final String PREAMBLE =
      """
      import dev.invalidator.core.*;
      import dev.invalidator.outbox.*;
      import dev.invalidator.http.*;
      import dev.invalidator.redis.*;
      import dev.invalidator.workflows.*;
      import io.lettuce.core.RedisClient;
      import java.sql.Connection;
      import java.sql.SQLException;
      import java.time.Duration;
      import java.util.List;
      import javax.sql.DataSource;

      abstract class Sample%d {
        RedisClient redisClient;        // Lettuce's client
        DataSource dataSource;          // the application's pool
        CacheClient cache;
        OutboxWriter outbox;
        Connection c;                   // inside the application's transaction
        String tenant;
        String id;
        String accountId;
        long v;

        abstract CacheClient.Versioned loadCard(String tenant, String id);

        abstract CacheClient.Versioned loadFromDatabase(String tenant, String id);

        abstract long updateAccount(Connection c, String tenant, String id) throws SQLException;

        void sample() throws Exception {
      %s
        }
      }
      """;

  @TempDir Path out;

  @Test
  void everyJavaBlockCompiles() throws IOException {
    String readme = Files.readString(Path.of("..", "README.md"));
    Matcher m = BLOCK.matcher(readme);
    List<JavaFileObject> sources = new ArrayList<>();
    while (m.find()) {
      int n = sources.size() + 1;
      String code = String.format(Locale.ROOT, PREAMBLE, n, m.group(1));
      sources.add(
          new SimpleJavaFileObject(
              URI.create("string:///Sample" + n + ".java"), JavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
              return code;
            }
          });
    }
    assertThat(sources).as("java blocks in README.md").hasSizeGreaterThanOrEqualTo(4);

    JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
    try (StandardJavaFileManager files = compiler.getStandardFileManager(null, null, null)) {
      List<String> options =
          List.of("-d", out.toString(), "-cp", System.getProperty("java.class.path"));
      boolean ok = compiler.getTask(null, files, diagnostics, options, null, sources).call();
      List<String> errors = new ArrayList<>();
      for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
        if (d.getKind() == Diagnostic.Kind.ERROR) {
          errors.add(
              d.getSource().getName() + ":" + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT));
        }
      }
      assertThat(errors).as("README java blocks that do not compile").isEmpty();
      assertThat(ok).isTrue();
    }
  }
}
