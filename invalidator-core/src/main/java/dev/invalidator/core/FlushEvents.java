package dev.invalidator.core;

import java.util.List;

/**
 * The convention for bulk invalidation events, which have no single aggregate.
 *
 * <p>{@link InvalidationEvent} requires an aggregate, so a bulk event names a pseudo-aggregate of
 * its own tenant: type {@value #TAG_TYPE} with the tag as id for a tag invalidation, type {@value
 * #TENANT_TYPE} with the tenant as id for a tenant flush. The version is the emission time in epoch
 * milliseconds (bulk events are not versioned; the value only has to be valid). The Redis target
 * applies the aggregate part like any event (it raises a fence nobody reads) and walks the tag sets
 * named in {@link Payload#tags()}: the tag, or {@link KeyScheme#ALL_TAG} for a tenant flush, which
 * every fill registers its entry under. Aggregate types starting with {@code _} are reserved for
 * this use.
 */
public final class FlushEvents {
  /** Event type of a tag invalidation. */
  public static final String TAG_INVALIDATE = "tag.invalidate";

  /** Event type of a tenant-wide flush. */
  public static final String TENANT_FLUSH = "tenant.flush";

  /** Pseudo-aggregate type of tag invalidations. */
  public static final String TAG_TYPE = "_tag";

  /** Pseudo-aggregate type of tenant flushes. */
  public static final String TENANT_TYPE = "_tenant";

  private FlushEvents() {}

  /** An event that invalidates every entry registered under {@code tag} of {@code tenant}. */
  public static InvalidationEvent tag(String tenant, String tag, long epochMillis) {
    return InvalidationEvent.builder()
        .tenant(tenant)
        .aggregate(TAG_TYPE, KeyScheme.tagName(tag))
        .version(epochMillis)
        .eventType(TAG_INVALIDATE)
        .payload(new Payload(List.of(), List.of(tag), List.of()))
        .build();
  }

  /** An event that invalidates every entry of {@code tenant} (the {@code _all} tag). */
  public static InvalidationEvent tenant(String tenant, long epochMillis) {
    return InvalidationEvent.builder()
        .tenant(tenant)
        .aggregate(TENANT_TYPE, Identifiers.tenant(tenant))
        .version(epochMillis)
        .eventType(TENANT_FLUSH)
        .payload(new Payload(List.of(), List.of(KeyScheme.ALL_TAG), List.of()))
        .build();
  }
}
