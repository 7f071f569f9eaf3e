package dev.invalidator.core;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * A fact: "aggregate {@code type/id} of {@code tenant} reached {@code version}". Everything
 * downstream is derived from these fields, and every field is validated on construction, with a
 * message that names the field.
 *
 * @param createdAt when the outbox row was written; null for an event not yet written
 */
public record InvalidationEvent(
    UUID eventId,
    AggregateRef aggregate,
    long aggregateVersion,
    String eventType,
    Payload payload,
    TraceContext trace,
    Instant createdAt) {

  private static final Pattern EVENT_TYPE = Pattern.compile("[A-Za-z0-9._-]{1,128}");

  public InvalidationEvent {
    if (eventId == null) {
      throw new InvalidEventException("event_id", "is missing");
    }
    if (aggregate == null) {
      throw new InvalidEventException("aggregate", "is missing");
    }
    if (aggregateVersion < 0) {
      throw new InvalidEventException("aggregate_version", "must be >= 0, got " + aggregateVersion);
    }
    if (eventType == null || !EVENT_TYPE.matcher(eventType).matches()) {
      throw new InvalidEventException(
          "event_type", "must be 1-128 characters of letters, digits, '.', '_' or '-'");
    }
    payload = Objects.requireNonNullElse(payload, Payload.EMPTY);
    trace = Objects.requireNonNullElse(trace, TraceContext.NONE);
  }

  public String tenantId() {
    return aggregate.tenantId();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builds an event; {@link #build()} validates every field. */
  public static final class Builder {
    // A random id is drawn only when none was given: SecureRandom per decoded event was a visible
    // cost of the relay and the workers, which always set the id.
    private UUID eventId;
    private boolean eventIdSet;
    private String tenantId;
    private String aggregateType;
    private String aggregateId;
    private long aggregateVersion = -1;
    private String eventType = "changed";
    private Payload payload = Payload.EMPTY;
    private TraceContext trace = TraceContext.NONE;
    private Instant createdAt;

    private Builder() {}

    public Builder eventId(UUID eventId) {
      this.eventId = eventId;
      this.eventIdSet = true;
      return this;
    }

    public Builder tenant(String tenantId) {
      this.tenantId = tenantId;
      return this;
    }

    public Builder aggregate(String type, String id) {
      this.aggregateType = type;
      this.aggregateId = id;
      return this;
    }

    public Builder aggregate(AggregateRef ref) {
      this.tenantId = ref.tenantId();
      this.aggregateType = ref.type();
      this.aggregateId = ref.id();
      return this;
    }

    public Builder version(long version) {
      this.aggregateVersion = version;
      return this;
    }

    /**
     * The event type (1-128 of letters, digits, {@code . _ -}); {@code "changed"} when never set.
     * Give one: {@code worker.eventTypes} filters on it and dead letters name it.
     */
    public Builder eventType(String eventType) {
      this.eventType = eventType;
      return this;
    }

    public Builder payload(Payload payload) {
      this.payload = payload;
      return this;
    }

    public Builder trace(TraceContext trace) {
      this.trace = trace;
      return this;
    }

    public Builder createdAt(Instant createdAt) {
      this.createdAt = createdAt;
      return this;
    }

    public InvalidationEvent build() {
      return new InvalidationEvent(
          eventIdSet ? eventId : UUID.randomUUID(),
          new AggregateRef(tenantId, aggregateType, aggregateId),
          aggregateVersion,
          eventType,
          payload,
          trace,
          createdAt);
    }
  }
}
