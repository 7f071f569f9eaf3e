package dev.invalidator.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class KeySchemeTest {
  private final KeyScheme keys = KeyScheme.defaults();
  private final AggregateRef acme = new AggregateRef("acme", "account", "42");

  @Test
  void buildsTheDesignFormat() {
    assertThat(keys.entry(acme, "summary")).isEqualTo("inv:{acme|account|42}:v:summary");
    assertThat(keys.fence(acme)).isEqualTo("inv:{acme|account|42}:fence");
    assertThat(keys.views(acme)).isEqualTo("inv:{acme|account|42}:views");
    assertThat(keys.tag("acme", "plan-pro")).isEqualTo("inv:{acme}:tag:plan-pro");
    assertThat(keys.tagGeneration("acme", "plan-pro")).isEqualTo("inv:{acme}:taggen:plan-pro");
    assertThat(keys.stream()).isEqualTo("inv:stream");
    assertThat(keys.stream(3)).isEqualTo("inv:stream:3");
    assertThat(keys.deadLetters()).isEqualTo("inv:dlq");
  }

  @Test
  void allAggregateKeysShareOneClusterHashTag() {
    String tag = "{acme|account|42}";
    assertThat(keys.entry(acme, "a")).contains(tag);
    assertThat(keys.fence(acme)).contains(tag);
    assertThat(keys.views(acme)).contains(tag);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "a:b",
        "a{b",
        "a}b",
        "a|b",
        "a*b",
        "a?b",
        "a[b",
        "a]b",
        "a b",
        "a\tb",
        "a\u0000b"
      })
  void identifiersThatCouldBreakAKeyAreRefused(String bad) {
    assertThatThrownBy(() -> new AggregateRef(bad, "account", "1"))
        .isInstanceOf(InvalidEventException.class)
        .hasMessageStartingWith("tenant_id:");
    assertThatThrownBy(() -> new AggregateRef("acme", bad, "1"))
        .isInstanceOf(InvalidEventException.class)
        .hasMessageStartingWith("aggregate_type:");
    assertThatThrownBy(() -> new AggregateRef("acme", "account", bad))
        .isInstanceOf(InvalidEventException.class)
        .hasMessageStartingWith("aggregate_id:");
    assertThatThrownBy(() -> keys.entry(acme, bad)).isInstanceOf(InvalidEventException.class);
    assertThatThrownBy(() -> keys.tag("acme", bad)).isInstanceOf(InvalidEventException.class);
  }

  @Test
  void errorMessageNamesTheFieldAndTheCharacter() {
    assertThatThrownBy(() -> new AggregateRef("acme", "account", "4{2"))
        .hasMessage(
            "aggregate_id: contains '{' at position 1; allowed are letters, digits and . _ - @ + = / ~");
    assertThatThrownBy(() -> new AggregateRef("acme", "account", ""))
        .hasMessage("aggregate_id: is empty");
    assertThatThrownBy(() -> new AggregateRef("x".repeat(65), "account", "1"))
        .hasMessage("tenant_id: is 65 characters long; the limit is 64");
  }

  @Test
  void anEventCannotNameAnotherTenantsKey() {
    // Whatever a malicious producer puts into views or tags, it cannot escape its own tenant:
    // names that would imitate key structure are refused before any key is built.
    for (String crafted :
        new String[] {
          "x}:fence", "{other|account|42}:v:summary", "inv:{other}:tag:t", "../other"
        }) {
      boolean refused;
      try {
        InvalidationEvent e =
            InvalidationEvent.builder()
                .tenant("acme")
                .aggregate("account", "42")
                .version(1)
                .payload(Payload.ofViews(crafted))
                .build();
        refused = false;
        assertThat(keys.entry(e.aggregate(), e.payload().views().get(0)))
            .startsWith("inv:{acme|account|42}:v:");
      } catch (InvalidEventException ex) {
        refused = true;
        assertThat(ex.field()).startsWith("payload.views");
      }
      assertThat(refused || keys.belongsTo(keys.entry(acme, "x"), "acme")).isTrue();
    }
    assertThat(keys.belongsTo(keys.entry(acme, "x"), "acm")).isFalse();
  }

  @Test
  void prefixIsValidated() {
    assertThatThrownBy(() -> new KeyScheme("a:b")).hasMessageContaining("redis.prefix");
    assertThat(new KeyScheme("app-1").fence(acme)).startsWith("app-1:{");
  }
}
