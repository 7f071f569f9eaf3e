/**
 * Redis adapters of Invalidator.
 *
 * <ul>
 *   <li>{@link dev.invalidator.redis.RedisStreamPublisher}: the relay's side of the stream.
 *   <li>{@link dev.invalidator.redis.RedisStreamSource}: the worker's side, a consumer group with
 *       {@code XAUTOCLAIM} take-over and Redis-kept delivery counts; {@link
 *       dev.invalidator.redis.StreamStats} for status.
 *   <li>{@link dev.invalidator.redis.VersionGatedRedisTarget}: applies events to fences and view
 *       entries with one Lua script per aggregate.
 *   <li>{@link dev.invalidator.redis.RedisDeadLetters}: the {@code <prefix>:dlq} stream.
 *   <li>{@link dev.invalidator.redis.CacheClient}: the application's fenced read-through cache.
 * </ul>
 *
 * The Lua scripts ({@code invalidate.lua}, {@code read.lua}, {@code fill.lua}) live next to these
 * classes as resources; each starts with a note on the protocol it implements.
 */
package dev.invalidator.redis;
