package dev.invalidator.core;

/**
 * One aggregate of one tenant: the unit that carries a version. Every part is validated, so a
 * reference can always be turned into keys safely.
 */
public record AggregateRef(String tenantId, String type, String id) {
  public AggregateRef {
    Identifiers.tenant(tenantId);
    Identifiers.require("aggregate_type", type, Identifiers.MAX_IDENTIFIER_LENGTH);
    Identifiers.require("aggregate_id", id, Identifiers.MAX_IDENTIFIER_LENGTH);
  }

  @Override
  public String toString() {
    return tenantId + "/" + type + "/" + id;
  }
}
