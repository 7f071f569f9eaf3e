package dev.invalidator.embedded;

import io.lettuce.core.MigrateArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.models.partitions.ClusterPartitionParser;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import redis.embedded.RedisServer;
import redis.embedded.core.ExecutableProvider;

/**
 * A throw-away Redis Cluster of three masters (no replicas) on free loopback ports, started from
 * the {@code redis-server} on the {@code PATH} or, when there is none, from the Redis 6.2 binary
 * {@code com.github.codemonstur:embedded-redis} ships inside its jar (so a machine with only a JDK
 * gets a cluster too).
 *
 * <p>The cluster is formed with the commands {@code redis-cli --cluster create} sends ({@code
 * CLUSTER ADDSLOTS} of a third of the slots per master, {@code CLUSTER MEET}), sent over Lettuce,
 * so no {@code redis-cli} is needed. Each node keeps an append-only file and its {@code nodes.conf}
 * in a private directory, so {@link #restart(int)} brings a master back with its node id, slots and
 * data, like an operator's restart.
 */
public final class EmbeddedRedisCluster implements AutoCloseable {
  /** Number of masters. */
  public static final int MASTERS = 3;

  private static final int SLOTS = 16384;
  private static final Duration FORM_TIMEOUT = Duration.ofSeconds(30);

  private final ExecutableProvider executable;
  private final String binaryDescription;
  private final Path dir;
  private final int[] ports;
  private final RedisServer[] servers;

  private EmbeddedRedisCluster(ExecutableProvider executable, String binaryDescription, Path dir) {
    this.executable = executable;
    this.binaryDescription = binaryDescription;
    this.dir = dir;
    this.ports = new int[MASTERS];
    this.servers = new RedisServer[MASTERS];
  }

  /**
   * The {@code redis-server} this cluster would start: the {@code PATH}'s, else the embedded-redis
   * jar's for this OS and architecture; empty when there is neither.
   */
  public static Optional<String> availableBinary() {
    return binary().map(b -> b.description);
  }

  record Binary(ExecutableProvider provider, String description) {}

  private static Optional<Binary> binary() {
    try {
      ExecutableProvider onPath = ExecutableProvider.newExecutableInPath("redis-server");
      return Optional.of(new Binary(onPath, "redis-server on the PATH"));
    } catch (FileNotFoundException e) {
      return jarBinary();
    }
  }

  static Optional<Binary> jarBinary() {
    try {
      ExecutableProvider jar = ExecutableProvider.newJarResourceProvider();
      jar.get();
      return Optional.of(new Binary(jar, "the embedded-redis jar's redis-server (6.2)"));
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * Starts three masters and forms the cluster; returns once every node reports {@code
   * cluster_state:ok} and knows all three masters.
   *
   * @throws IllegalStateException when no {@code redis-server} is available ({@link
   *     #availableBinary()} is empty)
   */
  public static EmbeddedRedisCluster start() {
    Binary b =
        binary()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "no redis-server for a Redis Cluster: none on the PATH and the"
                            + " embedded-redis jar has none for this OS/architecture"));
    return start(b);
  }

  static EmbeddedRedisCluster start(Binary b) {
    try {
      EmbeddedRedisCluster cluster =
          new EmbeddedRedisCluster(
              b.provider, b.description, Files.createTempDirectory("invalidator-cluster-"));
      try {
        cluster.startAll();
        cluster.form();
        return cluster;
      } catch (RuntimeException e) {
        cluster.close();
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("could not start a Redis Cluster: " + e.getMessage(), e);
    }
  }

  private void startAll() {
    for (int i = 0; i < MASTERS; i++) {
      ports[i] = freeClusterPort();
      startNode(i);
    }
  }

  private void startNode(int i) {
    int port = ports[i];
    try {
      Path nodeDir = Files.createDirectories(dir.resolve("node-" + port));
      RedisServer server =
          RedisServer.newRedisServer()
              .executableProvider(executable)
              .port(port)
              .bind("127.0.0.1")
              .setting("dir " + nodeDir)
              .setting("cluster-enabled yes")
              .setting("cluster-config-file nodes-" + port + ".conf")
              .setting("cluster-node-timeout 2000")
              .setting("save \"\"")
              .setting("appendonly yes")
              .setting("appendfsync always")
              .build();
      server.start();
      servers[i] = server;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "could not start cluster node on port " + port + ": " + e.getMessage(), e);
    }
  }

  private void form() {
    int per = SLOTS / MASTERS;
    for (int i = 0; i < MASTERS; i++) {
      int from = i * per;
      int to = i == MASTERS - 1 ? SLOTS : from + per;
      int[] slots = IntStream.range(from, to).toArray();
      int node = i;
      withNode(node, r -> r.clusterAddSlots(slots));
    }
    for (int i = 1; i < MASTERS; i++) {
      int port = ports[i];
      withNode(0, r -> r.clusterMeet("127.0.0.1", port));
    }
    awaitHealthy();
  }

  /** Waits until every node reports {@code cluster_state:ok} and sees all masters. */
  public void awaitHealthy() {
    long deadline = System.nanoTime() + FORM_TIMEOUT.toNanos();
    while (true) {
      boolean ok = true;
      for (int i = 0; i < MASTERS && ok; i++) {
        try {
          String info = withNode(i, RedisCommands::clusterInfo);
          ok =
              info.contains("cluster_state:ok")
                  && info.contains("cluster_known_nodes:" + MASTERS)
                  && info.contains("cluster_slots_ok:" + SLOTS);
        } catch (RuntimeException e) {
          ok = false;
        }
      }
      if (ok) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("Redis Cluster on ports " + portList() + " did not form");
      }
      try {
        Thread.sleep(50); // polling a server's state, not timing a correctness check
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the cluster", e);
      }
    }
  }

  /**
   * Stops master {@code index} (SIGTERM: it flushes its append-only file) and starts it again on
   * the same port and directory, then waits for the cluster to be healthy.
   */
  public void restart(int index) {
    stopNode(index);
    startNode(index);
    awaitHealthy();
  }

  /** Stops master {@code index}; the cluster fails its slots until {@link #startAgain(int)}. */
  public void stopNode(int index) {
    try {
      servers[index].stop();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Starts a master stopped by {@link #stopNode(int)} and waits for the cluster to heal. */
  public void startAgain(int index) {
    startNode(index);
    awaitHealthy();
  }

  /** Index of the master serving {@code slot}. */
  public int ownerOf(int slot) {
    String owner = nodeIdServing(slot);
    for (int i = 0; i < MASTERS; i++) {
      if (withNode(i, RedisCommands::clusterMyId).equals(owner)) {
        return i;
      }
    }
    throw new IllegalStateException("no master serves slot " + slot);
  }

  private String nodeIdServing(int slot) {
    String nodes = withNode(0, RedisCommands::clusterNodes);
    Partitions partitions = ClusterPartitionParser.parse(nodes);
    RedisClusterNode node = partitions.getPartitionBySlot(slot);
    if (node == null) {
      throw new IllegalStateException("no master serves slot " + slot);
    }
    return node.getNodeId();
  }

  /**
   * Moves {@code slot} with its keys to master {@code to}, the way {@code redis-cli --cluster
   * reshard} does: {@code CLUSTER SETSLOT IMPORTING} on the target, {@code MIGRATING} on the
   * source, {@code MIGRATE} of its keys in batches, then {@code SETSLOT NODE} on every master.
   * Clients see {@code ASK} redirects (and {@code TRYAGAIN} for a multi-key command whose keys are
   * split) while it runs, and {@code MOVED} after. Returns the number of keys moved.
   */
  public long migrateSlot(int slot, int to) {
    int from = ownerOf(slot);
    if (from == to) {
      return 0;
    }
    String fromId = withNode(from, RedisCommands::clusterMyId);
    String toId = withNode(to, RedisCommands::clusterMyId);
    withNode(to, r -> r.clusterSetSlotImporting(slot, fromId));
    withNode(from, r -> r.clusterSetSlotMigrating(slot, toId));
    long moved = 0;
    while (true) {
      List<String> keys = withNode(from, r -> r.clusterGetKeysInSlot(slot, 100));
      if (keys.isEmpty()) {
        break;
      }
      int toPort = ports[to];
      withNode(from, r -> r.migrate("127.0.0.1", toPort, 0, 5000, MigrateArgs.Builder.keys(keys)));
      moved += keys.size();
    }
    withNode(to, r -> r.clusterSetSlotNode(slot, toId));
    withNode(from, r -> r.clusterSetSlotNode(slot, toId));
    for (int i = 0; i < MASTERS; i++) {
      if (i != from && i != to) {
        withNode(i, r -> r.clusterSetSlotNode(slot, toId));
      }
    }
    return moved;
  }

  /** Runs {@code f} on a standalone connection to master {@code index}. */
  public <T> T withNode(
      int index, java.util.function.Function<RedisCommands<String, String>, T> f) {
    RedisClient client =
        RedisClient.create(RedisURI.Builder.redis("127.0.0.1", ports[index]).build());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      return f.apply(c.sync());
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /** Loopback port of master {@code index}. */
  public int port(int index) {
    return ports[index];
  }

  /**
   * The seed list as Invalidator's {@code redis.url} takes it for a cluster: the masters' {@code
   * redis://} URIs separated by commas.
   */
  public String url() {
    return uris().stream().collect(Collectors.joining(","));
  }

  /** One {@code redis://} URI per master. */
  public List<String> uris() {
    List<String> out = new ArrayList<>();
    for (int p : ports) {
      out.add("redis://127.0.0.1:" + p);
    }
    return out;
  }

  /** Which binary the nodes run. */
  public String binaryDescription() {
    return binaryDescription;
  }

  private String portList() {
    return IntStream.of(ports).mapToObj(Integer::toString).collect(Collectors.joining(","));
  }

  @Override
  public void close() {
    for (int i = 0; i < MASTERS; i++) {
      if (servers[i] != null) {
        try {
          servers[i].stop();
        } catch (IOException | RuntimeException e) {
          // best effort: the others still have to stop
        }
      }
    }
    deleteQuietly(dir);
  }

  /** Removes the nodes' append-only files and nodes.conf. */
  private static void deleteQuietly(Path root) {
    try (java.util.stream.Stream<Path> paths = Files.walk(root)) {
      paths
          .sorted(java.util.Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException e) {
                  // a leftover temporary file is not worth failing a test for
                }
              });
    } catch (IOException | UncheckedIOException e) {
      // same
    }
  }

  /** A free port whose cluster-bus port (+10000) is free too. */
  static int freeClusterPort() {
    for (int attempt = 0; attempt < 100; attempt++) {
      int port = EmbeddedRedisServer.freePort();
      if (port + 10000 > 65535) {
        continue;
      }
      try (ServerSocket bus = new ServerSocket(port + 10000)) {
        bus.setReuseAddress(true);
        return port;
      } catch (IOException e) {
        // bus port taken: try another
      }
    }
    throw new IllegalStateException("no free port pair (p, p+10000) for a cluster node");
  }
}
