package dev.invalidator.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EmbeddedRedisClusterTest {

  @Test
  void embeddedJarBinaryFormsAThreeMasterClusterThatKeepsDataAcrossARestart() {
    var jar = EmbeddedRedisCluster.jarBinary();
    assumeTrue(jar.isPresent(), "embedded-redis has no binary for this OS/architecture");
    try (EmbeddedRedisCluster cluster = EmbeddedRedisCluster.start(jar.get())) {
      String info = cluster.withNode(0, r -> r.info("server"));
      assertThat(info).contains("redis_version:6.2");
      RedisClusterClient client =
          RedisClusterClient.create(cluster.uris().stream().map(RedisURI::create).toList());
      try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
        Set<Integer> owners = new HashSet<>();
        for (int i = 0; i < 30; i++) {
          String key = "fixture:" + i;
          c.sync().set(key, "v" + i);
          owners.add(
              c.getPartitions().getPartitionBySlot(SlotHash.getSlot(key)).getUri().getPort());
        }
        assertThat(owners).hasSize(EmbeddedRedisCluster.MASTERS);
        int victim = 1;
        List<String> onVictim = cluster.withNode(victim, r -> r.keys("fixture:*"));
        assertThat(onVictim).isNotEmpty();
        cluster.restart(victim);
        for (String key : onVictim) {
          assertThat(c.sync().get(key)).isEqualTo("v" + key.substring("fixture:".length()));
        }
        String moving = onVictim.get(0);
        int slot = SlotHash.getSlot(moving);
        int target = (victim + 1) % EmbeddedRedisCluster.MASTERS;
        assertThat(cluster.migrateSlot(slot, target)).isPositive();
        assertThat(cluster.ownerOf(slot)).isEqualTo(target);
        assertThat(c.sync().get(moving)).isEqualTo("v" + moving.substring("fixture:".length()));
      } finally {
        client.shutdown();
      }
    }
  }
}
