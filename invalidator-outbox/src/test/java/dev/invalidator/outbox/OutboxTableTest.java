package dev.invalidator.outbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class OutboxTableTest {
  @Test
  void defaultsArePublicInvalidationOutbox() {
    OutboxTable t = OutboxTable.defaults();
    assertThat(t.qualified()).isEqualTo("\"public\".\"invalidation_outbox\"");
    assertThat(t.notifyChannel()).isEqualTo("invalidation_outbox_wakeup");
    assertThat(t.historyTable()).isEqualTo("invalidation_outbox_schema_history");
  }

  @Test
  void invalidSchemaIsRefusedNamingTheSetting() {
    for (String bad : new String[] {"Public", "1abc", "a-b", "a;drop table x", "", "a\"b"}) {
      assertThatThrownBy(() -> OutboxTable.of(bad, "outbox"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("postgres.schema");
    }
    assertThatThrownBy(() -> OutboxTable.of(null, "outbox"))
        .hasMessageContaining("postgres.schema");
  }

  @Test
  void invalidTableIsRefusedNamingTheSetting() {
    for (String bad : new String[] {"Outbox", "x y", "x.y", "outbox\"; --", "é"}) {
      assertThatThrownBy(() -> OutboxTable.of("public", bad))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("postgres.table");
    }
  }

  @Test
  void tableTooLongForItsDerivedNamesIsRefused() {
    String ok = "t".repeat(OutboxTable.MAX_TABLE_LENGTH);
    assertThat(OutboxTable.of("public", ok).historyTable()).hasSize(63);
    assertThatThrownBy(() -> OutboxTable.of("public", ok + "t"))
        .hasMessageContaining("postgres.table")
        .hasMessageContaining("63");
  }
}
