package dev.invalidator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.invalidator.core.InvalidatorException;
import org.junit.jupiter.api.Test;

class RedisServerInfoTest {
  private static String info(String version) {
    return "# Server\r\nredis_version:" + version + "\r\nredis_git_sha1:00000000\r\n";
  }

  @Test
  void versionIsParsedFromInfoServer() {
    RedisServerInfo info = RedisServerInfo.parse(info("7.0.15"));

    assertThat(info.version()).hasValue("7.0.15");
    assertThat(info.atLeast(6, 2)).isTrue();
    assertThat(info.atLeast(7, 0)).isTrue();
    assertThat(info.atLeast(7, 1)).isFalse();
    assertThat(info.reportsDeletedOnClaim()).isTrue();
  }

  @Test
  void redis62ClaimsWithoutDeletedIds() {
    RedisServerInfo info = RedisServerInfo.parse(info("6.2.11"));

    assertThat(info.requireSupported()).isSameAs(info);
    assertThat(info.reportsDeletedOnClaim()).isFalse();
  }

  @Test
  void serverOlderThan62IsRefusedWithItsVersion() {
    RedisServerInfo info = RedisServerInfo.parse(info("6.0.16"));

    assertThatThrownBy(info::requireSupported)
        .isInstanceOf(InvalidatorException.class)
        .hasMessageContaining("Redis 6.0.16 is not supported")
        .hasMessageContaining("Redis 6.2 or newer")
        .satisfies(e -> assertThat(((InvalidatorException) e).isRetryable()).isFalse());
  }

  @Test
  void unknownVersionPassesAndUsesThe62Replies() {
    RedisServerInfo info = RedisServerInfo.parse("# Server\r\nuptime_in_seconds:5\r\n");

    assertThat(info.version()).isEmpty();
    assertThat(info.requireSupported()).isSameAs(info);
    assertThat(info.reportsDeletedOnClaim()).isFalse();
  }
}
