package dev.invalidator.workflows;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** What a workflow step does; the label is its {@code kind} in configuration. */
public enum StepKind {
  /** Applies the event to the version-gated Redis target. */
  INVALIDATE_REDIS("invalidate-redis", true),
  /** Purges the event's CDN tags. */
  PURGE_CDN("purge-cdn", true),
  /** Posts the event to a projection webhook (Standard Webhooks). */
  WEBHOOK("webhook", true),
  /** Posts the event to a vendor API at most N requests per second. */
  VENDOR_CALL("vendor-call", true),
  /** Waits a fixed time (a cooldown), durably: a restart does not start the wait again. */
  WAIT("wait", false),
  /** Waits for a callback on the admin server, with a timeout. */
  WAIT_FOR_CALLBACK("wait-for-callback", false);

  private final String label;
  private final boolean callsTarget;

  StepKind(String label, boolean callsTarget) {
    this.label = label;
    this.callsTarget = callsTarget;
  }

  /** The label used in configuration, metrics and the CLI. */
  public String label() {
    return label;
  }

  /** True for the kinds that apply the event to a {@link dev.invalidator.core.Target}. */
  public boolean callsTarget() {
    return callsTarget;
  }

  /** The kind of {@code label}; the exception names the accepted labels. */
  public static StepKind fromLabel(String label) {
    String l = label == null ? "" : label.trim().toLowerCase(Locale.ROOT);
    for (StepKind k : values()) {
      if (k.label.equals(l)) {
        return k;
      }
    }
    throw new IllegalArgumentException(
        "unknown step kind '"
            + label
            + "'; one of "
            + Arrays.stream(values()).map(StepKind::label).collect(Collectors.joining(", ")));
  }
}
