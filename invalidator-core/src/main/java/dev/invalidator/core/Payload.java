package dev.invalidator.core;

import java.util.List;

/**
 * What an event invalidates beyond the aggregate's own registered views.
 *
 * @param views view names of the aggregate to unlink even if no fill registered them
 * @param tags tags of the event's tenant whose members are invalidated
 * @param cdnTags CDN surrogate keys to purge
 */
public record Payload(List<String> views, List<String> tags, List<String> cdnTags) {
  /** Most entries of one list. */
  public static final int MAX_ITEMS = 256;

  public static final Payload EMPTY = new Payload(List.of(), List.of(), List.of());

  public Payload {
    views = check("payload.views", views);
    tags = check("payload.tags", tags);
    cdnTags = check("payload.cdn_tags", cdnTags);
  }

  public static Payload ofViews(String... views) {
    return new Payload(List.of(views), List.of(), List.of());
  }

  public static Payload ofTags(String... tags) {
    return new Payload(List.of(), List.of(tags), List.of());
  }

  public boolean isEmpty() {
    return views.isEmpty() && tags.isEmpty() && cdnTags.isEmpty();
  }

  private static List<String> check(String field, List<String> items) {
    if (items == null) {
      return List.of();
    }
    if (items.size() > MAX_ITEMS) {
      throw new InvalidEventException(
          field, "has " + items.size() + " items; the limit is " + MAX_ITEMS);
    }
    for (int i = 0; i < items.size(); i++) {
      Identifiers.require(field + "[" + i + "]", items.get(i), Identifiers.MAX_IDENTIFIER_LENGTH);
    }
    return List.copyOf(items);
  }
}
