package dev.invalidator.http;

import dev.invalidator.core.Identifiers;
import dev.invalidator.core.InvalidEventException;

/**
 * Turns an event's {@code cdn_tags} into the provider's tags, scoped to the event's tenant.
 *
 * <p>Design note. Tenant isolation (G5) at the CDN rests on one property: no (tenant, tag) pair of
 * one tenant renders to the same string as any pair of another tenant. The template holds each of
 * {@code {tenant}} and {@code {tag}} exactly once, and the literal text between them holds a
 * character that neither a tenant id nor a tag can contain ({@link Identifiers}' allowlist refuses
 * it), so the tenant can always be read back from a rendered tag: {@code "{tenant}_{tag}"} is
 * refused because tenant {@code a_b} with tag {@code c} and tenant {@code a} with tag {@code b_c}
 * would both purge {@code a_b_c}. Tags are checked again here with the same allowlist (the payload
 * already was, when the event was built) and the rendered tag against the provider's own rules.
 */
final class TagTemplate {
  static final String TENANT = "{tenant}";
  static final String TAG = "{tag}";

  private final String template;
  private final CdnProvider provider;
  private final boolean tenantFirst;
  private final String prefix;
  private final String middle;
  private final String suffix;

  private TagTemplate(String template, CdnProvider provider) {
    this.template = template;
    this.provider = provider;
    int tenantAt = template.indexOf(TENANT);
    int tagAt = template.indexOf(TAG);
    this.tenantFirst = tenantAt < tagAt;
    int firstAt = Math.min(tenantAt, tagAt);
    int firstEnd = firstAt + (tenantFirst ? TENANT.length() : TAG.length());
    int secondAt = Math.max(tenantAt, tagAt);
    int secondEnd = secondAt + (tenantFirst ? TAG.length() : TENANT.length());
    this.prefix = template.substring(0, firstAt);
    this.middle = template.substring(firstEnd, secondAt);
    this.suffix = template.substring(secondEnd);
  }

  /**
   * Parses and checks a template for {@code provider}.
   *
   * @throws IllegalArgumentException naming {@code tagTemplate} and what is wrong
   */
  static TagTemplate parse(String template, CdnProvider provider) {
    if (template == null || template.isEmpty()) {
      throw new IllegalArgumentException("tagTemplate is missing");
    }
    if (occurrences(template, TENANT) != 1) {
      throw new IllegalArgumentException(
          "tagTemplate must contain {tenant} exactly once, so that every purged tag is scoped to"
              + " the event's tenant; got '"
              + template
              + "'");
    }
    if (occurrences(template, TAG) != 1) {
      throw new IllegalArgumentException(
          "tagTemplate must contain {tag} exactly once; got '" + template + "'");
    }
    TagTemplate t = new TagTemplate(template, provider);
    String literal = t.prefix + t.middle + t.suffix;
    if (literal.indexOf('{') >= 0 || literal.indexOf('}') >= 0) {
      throw new IllegalArgumentException(
          "tagTemplate may hold no braces besides {tenant} and {tag}; got '" + template + "'");
    }
    if (!t.middle.chars().anyMatch(c -> !identifierChar((char) c))) {
      throw new IllegalArgumentException(
          "tagTemplate must separate {tenant} and {tag} by a character that tenant ids and tags"
              + " cannot contain (anything but letters, digits and . _ - @ + = / ~), such as"
              + " ':' or '|', or two tenants could render the same tag; got '"
              + template
              + "'");
    }
    for (int i = 0; i < literal.length(); i++) {
      if (!provider.allowsInTag(literal.charAt(i))) {
        throw new IllegalArgumentException(
            "tagTemplate '"
                + template
                + "' contains '"
                + literal.charAt(i)
                + "', which "
                + provider.label()
                + " tags cannot hold");
      }
    }
    return t;
  }

  /**
   * The provider tag of {@code tag} for {@code tenant}.
   *
   * @param field the payload field, such as {@code payload.cdn_tags[2]}, for the error message
   * @throws InvalidEventException when the tag or the rendered tag is not acceptable
   */
  String render(String tenant, String tag, String field) {
    Identifiers.tenant(tenant);
    Identifiers.require(field, tag, Identifiers.MAX_IDENTIFIER_LENGTH);
    String rendered =
        tenantFirst
            ? prefix + tenant + middle + tag + suffix
            : prefix + tag + middle + tenant + suffix;
    if (rendered.length() > provider.maxTagLength()) {
      throw new InvalidEventException(
          field,
          "renders to a "
              + provider.label()
              + " tag of "
              + rendered.length()
              + " characters; the limit is "
              + provider.maxTagLength());
    }
    for (int i = 0; i < rendered.length(); i++) {
      char c = rendered.charAt(i);
      if (!provider.allowsInTag(c)) {
        throw new InvalidEventException(
            field,
            "renders to '"
                + rendered
                + "', whose '"
                + c
                + "' "
                + provider.label()
                + " tags cannot hold");
      }
    }
    return rendered;
  }

  String template() {
    return template;
  }

  private static int occurrences(String s, String part) {
    int n = 0;
    for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  /**
   * True when {@link Identifiers} lets {@code c} into tenant ids and tags; asked of the allowlist
   * itself so the two cannot drift apart.
   */
  static boolean identifierChar(char c) {
    try {
      Identifiers.require("c", String.valueOf(c), 1);
      return true;
    } catch (InvalidEventException ex) {
      return false;
    }
  }
}
