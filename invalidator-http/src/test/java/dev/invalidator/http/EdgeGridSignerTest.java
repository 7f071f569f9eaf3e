package dev.invalidator.http;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * The signer against the published vectors of Akamai's EdgeGrid client libraries ({@code
 * testdata.json} of AkamaiOPEN-edgegrid-python): same credentials, timestamp and nonce must give
 * exactly the documented {@code Authorization} header.
 */
class EdgeGridSignerTest {
  private static final AkamaiCredentials CREDENTIALS =
      new AkamaiCredentials(
          "akab-client-token-xxx-xxxxxxxxxxxxxxxx",
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=",
          "akab-access-token-xxx-xxxxxxxxxxxxxxxx");
  private static final String BASE =
      "https://akaa-baseurl-xxxxxxxxxxx-xxxxxxxxxxxxx.luna.akamaiapis.net";
  private static final String TIMESTAMP = "20140321T19:34:21+0000";
  private static final String NONCE = "nonce-xx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
  private static final String PREFIX =
      "EG1-HMAC-SHA256 client_token=akab-client-token-xxx-xxxxxxxxxxxxxxxx;"
          + "access_token=akab-access-token-xxx-xxxxxxxxxxxxxxxx;"
          + "timestamp=20140321T19:34:21+0000;nonce=nonce-xx-xxxx-xxxx-xxxx-xxxxxxxxxxxx;signature=";

  private final EdgeGridSigner signer = new EdgeGridSigner(CREDENTIALS);

  @Test
  void simpleGetMatchesAkamaiVector() {
    assertThat(signer.authorization("GET", URI.create(BASE + "/"), null, TIMESTAMP, NONCE))
        .isEqualTo(PREFIX + "tL+y4hxyHxgWVD30X3pWnGKHcPzmrIF+LThiAOhMxYU=");
  }

  @Test
  void getWithQueryStringMatchesAkamaiVector() {
    assertThat(
            signer.authorization(
                "GET", URI.create(BASE + "/testapi/v1/t1?p1=1&p2=2"), null, TIMESTAMP, NONCE))
        .isEqualTo(PREFIX + "hKDH1UlnQySSHjvIcZpDMbQHihTQ0XyVAKZaApabdeA=");
  }

  @Test
  void postWithBodyMatchesAkamaiVector() {
    byte[] body = "datadatadatadatadatadatadatadata".getBytes(StandardCharsets.UTF_8);
    assertThat(
            signer.authorization(
                "POST", URI.create(BASE + "/testapi/v1/t3"), body, TIMESTAMP, NONCE))
        .isEqualTo(PREFIX + "hXm4iCxtpN22m4cbZb4lVLW5rhX8Ca82vCFqXzSTPe4=");
  }

  @Test
  void postWithEmptyBodyMatchesAkamaiVector() {
    assertThat(
            signer.authorization(
                "POST", URI.create(BASE + "/testapi/v1/t6"), new byte[0], TIMESTAMP, NONCE))
        .isEqualTo(PREFIX + "1gEDxeQGD5GovIkJJGcBaKnZ+VaPtrc4qBUHixjsPCQ=");
  }

  @Test
  void putBodyIsNotHashedAsAkamaiVectorSays() {
    byte[] body = "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP".getBytes(StandardCharsets.UTF_8);
    assertThat(
            signer.authorization(
                "PUT", URI.create(BASE + "/testapi/v1/t6"), body, TIMESTAMP, NONCE))
        .isEqualTo(PREFIX + "GNBWEYSEWOLtu+7dD52da2C39aX/Jchpon3K/AmBqBU=");
  }

  @Test
  void timestampIsUtcInEdgeGridFormat() {
    assertThat(EdgeGridSigner.timestamp(Instant.parse("2014-03-21T19:34:21Z")))
        .isEqualTo(TIMESTAMP);
  }

  @Test
  void credentialsNeverShowInToString() {
    assertThat(CREDENTIALS.toString())
        .doesNotContain("akab-client-token")
        .doesNotContain("xxxxxxxxxxxxxxxxxxxx")
        .doesNotContain("akab-access-token");
  }
}
