package dev.invalidator.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class OutcomeTest {
  @Test
  void trimmedBodyIsOneBoundedLineMarkedWhenCut() {
    assertThat(Outcome.trim("{\n  \"a\":\t1\r\n}\u0000")).isEqualTo("{ \"a\": 1 }");
    assertThat(Outcome.trim("x".repeat(Outcome.MAX_BODY_CHARS))).hasSize(Outcome.MAX_BODY_CHARS);
    assertThat(Outcome.trim("x".repeat(Outcome.MAX_BODY_CHARS) + "   "))
        .hasSize(Outcome.MAX_BODY_CHARS);
    assertThat(Outcome.trim("x".repeat(Outcome.MAX_BODY_CHARS + 1)))
        .hasSize(Outcome.MAX_BODY_CHARS + 3)
        .endsWith("...");
    assertThat(Outcome.trim(null)).isEmpty();
  }

  @Test
  void permanentIsWorseThanRateLimitedIsWorseThanRetryable() {
    Outcome retry = new Outcome(Outcome.Kind.RETRYABLE, 503, "", java.time.Duration.ZERO, "");
    Outcome limited = new Outcome(Outcome.Kind.RATE_LIMITED, 429, "", java.time.Duration.ZERO, "");
    Outcome permanent = new Outcome(Outcome.Kind.PERMANENT, 400, "", java.time.Duration.ZERO, "");
    assertThat(Outcome.worse(null, retry)).isSameAs(retry);
    assertThat(Outcome.worse(retry, limited)).isSameAs(limited);
    assertThat(Outcome.worse(permanent, limited)).isSameAs(permanent);
  }
}
