package dev.invalidator.redis;

import io.lettuce.core.RedisClient;

/** {@link StreamRepliesContract} on the tests' Redis: the machine's (CI) or the embedded one. */
class StreamRepliesTest extends StreamRepliesContract {
  @Override
  RedisClient client() {
    return TestRedis.CLIENT;
  }
}
