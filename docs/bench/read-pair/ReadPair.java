// The cache hit's read, three ways, through one Lettuce connection shared by 4 threads in a closed
// loop: a plain HGET of the value (the fill-path scenario's baseline), read.lua (what
// CacheClient.get sends: entry and fence in one script call), and HMGET of the entry with GET of
// the fence sent pipelined (the same two reads without a script). A warm-up round, then two
// measured rounds of 8 s per way, alternated. Run from the repository root, after a build:
//
//   java -cp invalidator-cli/target/invalidator.jar docs/bench/read-pair/ReadPair.java \
//     redis://127.0.0.1:6379
//
// It writes and then deletes the keys bench-readpair:{t|a|1}:v:default and ...:fence.
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;

public class ReadPair {
  static final int THREADS = 4;

  public static void main(String[] args) throws Exception {
    RedisClient client = RedisClient.create(args.length > 0 ? args[0] : "redis://127.0.0.1:6379");
    StatefulRedisConnection<String, byte[]> conn =
        client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    String entry = "bench-readpair:{t|a|1}:v:default";
    String fence = "bench-readpair:{t|a|1}:fence";
    conn.sync().hset(entry, Map.of("ver", "5".getBytes(), "val", "{\"balance\":12345}".getBytes()));
    conn.sync().set(fence, "3".getBytes());
    String script =
        Files.readString(
            Path.of("invalidator-client/src/main/resources/dev/invalidator/redis/read.lua"));
    String sha = conn.sync().scriptLoad(script.getBytes());
    String[] keys = {entry, fence};
    Map<String, Runnable> ways = new LinkedHashMap<>();
    ways.put("HGET", () -> check(conn.sync().hget(entry, "val")));
    ways.put(
        "read.lua",
        () -> {
          List<Object> r = conn.sync().evalsha(sha, ScriptOutputType.MULTI, keys);
          check((byte[]) r.get(1));
        });
    ways.put(
        "HMGET+GET",
        () -> {
          RedisFuture<List<KeyValue<String, byte[]>>> e =
              conn.async().hmget(entry, "ver", "val", "abs");
          RedisFuture<byte[]> f = conn.async().get(fence);
          try {
            check(e.get().get(1).getValueOrElse(null));
            check(f.get());
          } catch (InterruptedException | ExecutionException ex) {
            throw new IllegalStateException(ex);
          }
        });
    System.out.printf("%d threads, one connection, closed loop%n", THREADS);
    for (int round = 0; round <= 2; round++) {
      for (Map.Entry<String, Runnable> way : ways.entrySet()) {
        long millis = round == 0 ? 2_000 : 8_000;
        long[] r = run(way.getValue(), millis);
        if (round > 0) {
          System.out.printf(
              "round %d  %-10s %8.0f reads/s  p50 %6.1f us  p99 %6.1f us%n",
              round, way.getKey(), r[0] * 1000.0 / millis, r[1] / 1000.0, r[2] / 1000.0);
        }
      }
    }
    conn.sync().del(entry, fence);
    conn.close();
    client.shutdown();
  }

  static void check(byte[] value) {
    if (value == null) {
      throw new IllegalStateException("the entry or fence is missing");
    }
  }

  /** Count, p50 and p99 (ns) of THREADS threads running op for millis. */
  static long[] run(Runnable op, long millis) throws InterruptedException {
    long end = System.nanoTime() + millis * 1_000_000L;
    List<long[]> all = new ArrayList<>();
    Thread[] threads = new Thread[THREADS];
    for (int i = 0; i < THREADS; i++) {
      threads[i] =
          new Thread(
              () -> {
                long[] lat = new long[2_000_000];
                int n = 0;
                while (System.nanoTime() < end && n < lat.length) {
                  long start = System.nanoTime();
                  op.run();
                  lat[n++] = System.nanoTime() - start;
                }
                synchronized (all) {
                  all.add(Arrays.copyOf(lat, n));
                }
              });
      threads[i].start();
    }
    for (Thread t : threads) {
      t.join();
    }
    long[] merged = all.stream().flatMapToLong(Arrays::stream).sorted().toArray();
    return new long[] {
      merged.length, merged[merged.length / 2], merged[(int) (merged.length * 0.99)]
    };
  }
}
