package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.invalidator.server.config.Setting;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Keeps the README's configuration reference true to the code. */
class ReadmeTest {
  @Test
  void readmeListsEverySettingWithItsVariableAndDefault() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    for (Setting s : Setting.ALL) {
      String def = s.defaultValue().isEmpty() ? "(none)" : "`" + s.defaultValue() + "`";
      assertThat(readme)
          .as("README row for %s", s.name())
          .contains("| `" + s.name() + "` | `" + s.envName() + "` | " + def + " |");
    }
  }

  @Test
  void readmeStartsWithTheTwoCommandsThatCiRuns() throws Exception {
    String readme = Files.readString(Path.of("..", "README.md"));
    String ci = Files.readString(Path.of("..", ".ci", "run"));
    assertThat(readme).contains("./invalidator demo").contains("./mvnw -B verify");
    assertThat(ci.strip()).endsWith("./mvnw -B verify");
    // Once against the machine's services (MariaDB's included), once on the embedded servers a
    // fresh clone uses.
    assertThat(ci)
        .containsOnlyOnce(
            "INVALIDATOR_TEST_MYSQL_URL=\"$mysql_url\" INVALIDATOR_TEST_REDIS_URL=\"$redis_url\""
                + " ./mvnw -B verify\n")
        .containsOnlyOnce(
            "env -u INVALIDATOR_TEST_POSTGRES_URL -u INVALIDATOR_TEST_MYSQL_URL"
                + " -u INVALIDATOR_TEST_REDIS_URL ./mvnw -B verify\n");
  }
}
