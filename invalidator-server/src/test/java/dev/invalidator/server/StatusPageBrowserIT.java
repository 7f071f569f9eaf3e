package dev.invalidator.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.invalidator.core.MessagingSpans;
import dev.invalidator.server.observe.AdminServer;
import io.opentelemetry.api.OpenTelemetry;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The status page in a real headless Chromium (Debian's {@code chromium} and {@code
 * chromium-driver}): it loads, shows figures that change while events flow, and leaves a screenshot
 * in {@code target/status-page.png}. Skipped when the browser is not installed, except under {@code
 * CI=true}, where a missing browser fails.
 */
class StatusPageBrowserIT {
  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

  @TempDir Path profile;

  private TestEnv env;
  private Observability observability;
  private Pipeline pipeline;
  private WebDriver driver;
  private Thread writer;
  private final AtomicBoolean writing = new AtomicBoolean(true);
  private String dropSchema;

  @AfterEach
  void tearDown() throws Exception {
    writing.set(false);
    if (writer != null) {
      writer.join(10_000);
    }
    if (driver != null) {
      driver.quit();
    }
    if (pipeline != null) {
      pipeline.close();
    }
    if (observability != null) {
      observability.close();
    }
    if (env != null) {
      env.close();
    }
    if (dropSchema != null) {
      try (java.sql.Connection c =
              java.sql.DriverManager.getConnection(
                  dev.invalidator.testing.TestServers.postgresUrl());
          java.sql.Statement st = c.createStatement()) {
        st.execute("DROP SCHEMA IF EXISTS " + dropSchema + " CASCADE");
      }
    }
  }

  static void assumeInstalled(Path... tools) {
    boolean ci = "true".equalsIgnoreCase(System.getenv("CI"));
    for (Path tool : tools) {
      boolean present = Files.isExecutable(tool);
      if (ci) {
        assertThat(present).as(tool + " is required under CI=true (.ci/run installs it)").isTrue();
      } else {
        Assumptions.assumeTrue(present, tool + " is not installed");
      }
    }
  }

  @Test
  void statusPageShowsLiveFiguresThatMoveWhileEventsFlow() throws Exception {
    assumeInstalled(CHROMIUM, CHROMEDRIVER);
    env = new TestEnv(Map.of("observability.tenants", "acme,globex"));
    observability =
        Observability.create(env.cfg, Daemon.Role.ALL, OpenTelemetry.noop(), Clock.systemUTC());
    pipeline =
        new Pipeline(
            env.cfg,
            env.servers,
            Daemon.Role.ALL,
            observability.metrics().workerListener(),
            observability.metrics().relayListener(),
            Clock.systemUTC(),
            MessagingSpans.NOOP);
    pipeline.start();
    AdminServer admin = observability.start(env.servers, pipeline);
    AtomicLong version = new AtomicLong();
    List<String> tenants = List.of("acme", "globex", "initech", "umbrella");
    writer =
        new Thread(
            () -> {
              while (writing.get()) {
                long v = version.incrementAndGet();
                env.commit(tenants.get((int) (v % tenants.size())), "a" + (v % 20), v);
                java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
              }
            },
            "test-writer");
    writer.start();

    driver = chrome();
    driver.get(admin.uri().toString());
    assertThat(driver.getTitle()).isEqualTo("Invalidator status");
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(text("state")).isEqualTo("live");
              assertThat(number("applied-total")).isGreaterThan(0);
              assertThat(text("p50")).matches("[0-9,]+");
              assertThat(number("applied-rate")).isGreaterThan(0);
            });
    long firstTotal = number("applied-total");
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(() -> assertThat(number("applied-total")).isGreaterThan(firstTotal));
    assertThat(
            driver.findElements(By.cssSelector("#staleness tbody tr")).stream()
                .map(r -> r.getAttribute("data-tenant"))
                .toList())
        .containsExactlyInAnyOrder("acme", "globex", "other");
    assertThat(driver.findElement(By.cssSelector("#breakers tbody")).getText())
        .contains("redis")
        .contains("closed");
    assertThat(text("dlq-depth")).isEqualTo("0");
    File shot = ((ChromeDriver) driver).getScreenshotAs(OutputType.FILE);
    Path target = Path.of("target", "status-page.png");
    Files.copy(shot.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
    assertThat(Files.size(target)).isGreaterThan(10_000);
  }

  /**
   * The workflows card: three workflows waiting for a callback show as waiting (not running), then
   * two called back and one cancelled show as succeeded and cancelled, nothing in flight. The same
   * counts are in {@code /api/status} as {@code workflowStates}.
   */
  @Test
  void workflowsCardShowsCountsByState() throws Exception {
    assumeInstalled(CHROMIUM, CHROMEDRIVER);
    String schema = "wfb_" + java.util.UUID.randomUUID().toString().substring(0, 8);
    String definitions =
        ("[{'name':'confirm','eventTypes':['account.changed'],'steps':["
                + "{'name':'redis','kind':'invalidate-redis'},"
                + "{'name':'confirmed','kind':'wait-for-callback','timeout':'5m'}]}]")
            .replace('\'', '"');
    env = new TestEnv(Map.of("workflows.definitions", definitions, "workflows.schema", schema));
    try {
      observability =
          Observability.create(env.cfg, Daemon.Role.ALL, OpenTelemetry.noop(), Clock.systemUTC());
      pipeline =
          new Pipeline(
              env.cfg,
              env.servers,
              Daemon.Role.ALL,
              observability.metrics().workerListener(),
              observability.metrics().relayListener(),
              Clock.systemUTC(),
              MessagingSpans.NOOP);
      pipeline.start();
      AdminServer admin = observability.start(env.servers, pipeline);
      List<String> ids = new java.util.ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ids.add(
            dev.invalidator.workflows.WorkflowEngine.workflowId(
                "confirm", env.commit("acme", "w" + i, 1)));
      }
      driver = chrome();
      driver.get(admin.uri().toString());
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(driver.findElement(By.id("card-workflows")).isDisplayed()).isTrue();
                assertThat(number("wf-waiting")).isEqualTo(3);
                assertThat(number("wf-running")).isZero();
                assertThat(number("wf-active")).isEqualTo(3);
              });
      assertThat(pipeline.workflowEngine().callback(ids.get(0), "confirmed", "{}")).isTrue();
      assertThat(pipeline.workflowEngine().callback(ids.get(1), "confirmed", "{}")).isTrue();
      pipeline.workflowAdmin().cancel(ids.get(2));
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                assertThat(number("wf-succeeded")).isEqualTo(2);
                assertThat(number("wf-cancelled")).isEqualTo(1);
                assertThat(number("wf-waiting")).isZero();
                assertThat(number("wf-running")).isZero();
                assertThat(number("wf-failed")).isZero();
                assertThat(number("wf-active")).isZero();
              });
      assertThat(env.get(admin.uri(), "api/status").body())
          .contains(
              "\"workflowStates\":{\"running\":0,\"waiting\":0,\"succeeded\":2,\"failed\":0,"
                  + "\"cancelled\":1}");
      File shot = ((ChromeDriver) driver).getScreenshotAs(OutputType.FILE);
      Files.copy(
          shot.toPath(),
          Path.of("target", "status-page-workflows.png"),
          StandardCopyOption.REPLACE_EXISTING);
    } finally {
      dropSchema = schema;
    }
  }

  private String text(String id) {
    return driver.findElement(By.id(id)).getText().trim();
  }

  private long number(String id) {
    String t = text(id).replace(",", "");
    if (t.isEmpty() || t.equals("–")) {
      return -1;
    }
    return Math.round(Double.parseDouble(t));
  }

  private WebDriver chrome() {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        "--user-data-dir=" + profile.toAbsolutePath());
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .build();
    return new ChromeDriver(service, options);
  }
}
