package dev.invalidator.http;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Standard Webhooks signing: the key is the base64 part of a {@code whsec_<base64>} secret, the
 * signed content is {@code <webhook-id>.<webhook-timestamp>.<body>}, and the {@code
 * webhook-signature} header is {@code v1,<base64(HMAC-SHA256(key, content))>}.
 */
final class WebhookSignature {
  static final String SECRET_PREFIX = "whsec_";

  private WebhookSignature() {}

  /**
   * The key bytes of a {@code whsec_} secret.
   *
   * @throws IllegalArgumentException naming {@code secret} when it is malformed
   */
  static byte[] key(String secret) {
    if (secret == null || !secret.startsWith(SECRET_PREFIX)) {
      throw new IllegalArgumentException("secret must be whsec_<base64 of 24 to 64 bytes>");
    }
    byte[] key;
    try {
      key = Base64.getDecoder().decode(secret.substring(SECRET_PREFIX.length()));
    } catch (IllegalArgumentException ex) {
      throw new IllegalArgumentException("secret: the part after whsec_ is not base64", ex);
    }
    if (key.length < 24 || key.length > 64) {
      throw new IllegalArgumentException(
          "secret must hold 24 to 64 bytes (Standard Webhooks), got " + key.length);
    }
    return key;
  }

  static String sign(byte[] key, String id, long timestamp, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      mac.update((id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
      return "v1," + Base64.getEncoder().encodeToString(mac.doFinal(body));
    } catch (GeneralSecurityException ex) {
      throw new IllegalStateException("HmacSHA256 is not available", ex);
    }
  }
}
