package dev.invalidator.http;

import java.util.Objects;

/**
 * The three EdgeGrid credentials of an Akamai API client (the {@code client_token}, {@code
 * client_secret} and {@code access_token} of an {@code .edgerc} section); its {@code host} is the
 * {@link CdnPurgeTarget.Builder#endpoint(String) endpoint}. {@link #toString()} shows none of them.
 */
public record AkamaiCredentials(String clientToken, String clientSecret, String accessToken) {
  public AkamaiCredentials {
    require("akamai.clientToken", clientToken);
    require("akamai.clientSecret", clientSecret);
    require("akamai.accessToken", accessToken);
  }

  private static void require(String name, String value) {
    Objects.requireNonNull(value, name);
    if (value.isBlank()) {
      throw new IllegalArgumentException(name + " is empty");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= 0x20 || c >= 0x7f || c == ';') {
        throw new IllegalArgumentException(
            name + " contains a character an EdgeGrid header cannot carry, at position " + i);
      }
    }
  }

  @Override
  public String toString() {
    return "AkamaiCredentials[clientToken="
        + Secrets.mask(clientToken)
        + ", clientSecret="
        + Secrets.mask(clientSecret)
        + ", accessToken="
        + Secrets.mask(accessToken)
        + "]";
  }
}
