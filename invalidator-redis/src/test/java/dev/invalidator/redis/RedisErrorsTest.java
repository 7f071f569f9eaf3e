package dev.invalidator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisCommandExecutionException;
import org.junit.jupiter.api.Test;

/** The error replies below are copied from Redis 6.2.11 and 7.0.15. */
class RedisErrorsTest {
  private static RedisCommandExecutionException reply(String message) {
    return new RedisCommandExecutionException(message);
  }

  @Test
  void scriptErrorsAreClassifiedByTheirInnerCodeOnRedis62() {
    var readOnly =
        reply(
            "ERR Error running script (call to f_bd6f3018b28bbdb36260f19d3c44afed740db987):"
                + " @user_script:1: @user_script: 1: -READONLY You can't write against a read"
                + " only replica.");
    var oom =
        reply(
            "ERR Error running script (call to f_bd6f3018b28bbdb36260f19d3c44afed740db987):"
                + " @user_script:1: @user_script: 1: -OOM command not allowed when used memory >"
                + " 'maxmemory'.");
    var wrongType =
        reply(
            "ERR Error running script (call to f_d3c21d0c2b9ca22f82737626a27bcaf5d288f99f):"
                + " @user_script:1: WRONGTYPE Operation against a key holding the wrong kind of"
                + " value");
    var noGroup =
        reply(
            "ERR Error running script (call to f_9016ed6312fb6d6eeae628ea626c77a0199b97a5):"
                + " @user_script:24: NOGROUP No such key 'k' or consumer group 'g'");

    assertThat(RedisErrors.isRetryable(readOnly)).isTrue();
    assertThat(RedisErrors.isRetryable(oom)).isTrue();
    assertThat(RedisErrors.isRetryable(wrongType)).isFalse();
    assertThat(RedisErrors.serverMessage(noGroup)).startsWith("NOGROUP No such key");
  }

  @Test
  void scriptErrorsKeepTheirCodeOnRedis7() {
    var readOnly =
        reply(
            "READONLY You can't write against a read only replica. script:"
                + " bd6f3018b28bbdb36260f19d3c44afed740db987, on @user_script:1.");
    var wrongType =
        reply(
            "WRONGTYPE Operation against a key holding the wrong kind of value script:"
                + " d3c21d0c2b9ca22f82737626a27bcaf5d288f99f, on @user_script:1.");

    assertThat(RedisErrors.isRetryable(readOnly)).isTrue();
    assertThat(RedisErrors.isRetryable(wrongType)).isFalse();
    assertThat(RedisErrors.serverMessage(wrongType)).startsWith("WRONGTYPE");
  }

  @Test
  void aScriptsOwnErrorStaysPermanent() {
    var own = reply("ERR fill.lua: version is not a non-negative integer");

    assertThat(RedisErrors.isRetryable(own)).isFalse();
    assertThat(RedisErrors.serverMessage(own)).isEqualTo(own.getMessage());
  }
}
