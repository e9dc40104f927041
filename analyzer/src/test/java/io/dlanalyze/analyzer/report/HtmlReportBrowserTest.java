package io.dlanalyze.analyzer.report;

import static io.dlanalyze.analyzer.report.HtmlReports.count;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.dlanalyze.trace.HostileTraces.Markup;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opens HTML reports in a real headless Chromium: the report of every trace under {@code
 * sample-traces/}, of synthetic traces with faults, and of a trace with hostile layer names. Each
 * page must load with no console message at all (the page logs nothing itself, and the CSP turns
 * any network request into a console error), run its script to the end (it sets {@code
 * data-render-ok} and {@code data-chart-count} on the html element; a thrown error would also be a
 * console message), and keep every chart; the hostile names must stay text.
 *
 * <p>Needs Debian's {@code chromium} ({@code .ci/run} installs it); {@code -Dchromium=PATH} or
 * {@code CHROMIUM=PATH} picks another binary. Without one the test fails and says how to install
 * it. Two browsers run at a time.
 */
class HtmlReportBrowserTest {
  private static final long TIMEOUT_SECONDS = 120;
  private static final ExecutorService BROWSERS = Executors.newFixedThreadPool(2);

  @TempDir static Path dir;

  @AfterAll
  static void stopPool() {
    BROWSERS.shutdownNow();
  }

  /** A report to open, made when its test runs. */
  private record Case(String name, Supplier<String> html, boolean hostile) {}

  @TestFactory
  Stream<DynamicTest> report_inHeadlessChromium_rendersWithoutErrorsOrRequests()
      throws IOException {
    Path chromium = chromium();
    List<Case> cases = new ArrayList<>();
    for (Path trace : sampleTraces()) {
      cases.add(
          new Case(
              "sample " + repoRoot().relativize(trace), () -> HtmlReports.render(trace), false));
    }
    cases.add(
        new Case(
            "synthetic nan",
            () ->
                HtmlReports.render(
                    SyntheticTrace.builder()
                        .layers(6)
                        .steps(1_000)
                        .seed(1)
                        .fault(Fault.nan(3, 400))
                        .build()),
            false));
    cases.add(
        new Case(
            "synthetic dead layer and exploding gradient, 40000 steps",
            () ->
                HtmlReports.render(
                    SyntheticTrace.builder()
                        .layers(8)
                        .steps(40_000)
                        .stepsPerEpoch(400)
                        .seed(2)
                        .fault(Fault.deadLayer(2, 5_000))
                        .fault(Fault.explodingGradient(30_000, 1.01))
                        .build()),
            false));
    cases.add(
        new Case(
            "synthetic healthy",
            () -> HtmlReports.render(SyntheticTrace.builder().layers(5).steps(300).seed(3).build()),
            false));
    cases.add(
        new Case(
            "hostile layer names",
            () -> HtmlReports.render(Markup.write(dir.resolve("hostile.arrows"))),
            true));
    List<Future<Page>> pages = new ArrayList<>();
    for (int i = 0; i < cases.size(); i++) {
      Case c = cases.get(i);
      Path workDir = dir.resolve("case-" + i);
      pages.add(BROWSERS.submit(() -> open(chromium, workDir, c.html().get())));
    }
    List<DynamicTest> tests = new ArrayList<>();
    for (int i = 0; i < cases.size(); i++) {
      Case c = cases.get(i);
      Future<Page> page = pages.get(i);
      tests.add(DynamicTest.dynamicTest(c.name(), () -> check(await(page), c.hostile())));
    }
    return tests.stream();
  }

  /** What Chromium made of one page. */
  private record Page(String html, String dom, String log, int exitCode) {}

  private static Page open(Path chromium, Path workDir, String html)
      throws IOException, InterruptedException {
    Files.createDirectories(workDir);
    Path file = workDir.resolve("report.html");
    Files.writeString(file, html, StandardCharsets.UTF_8);
    Path profile = Files.createDirectory(workDir.resolve("profile"));
    Path out = workDir.resolve("dom.html");
    Path err = workDir.resolve("chromium.log");
    ProcessBuilder builder =
        new ProcessBuilder(
            chromium.toString(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--user-data-dir=" + profile,
            "--enable-logging=stderr",
            "--v=1",
            "--dump-dom",
            file.toUri().toString());
    builder.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process process = builder.start();
    if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError(
          "chromium did not finish within " + TIMEOUT_SECONDS + " s; log: " + err);
    }
    return new Page(
        html,
        Files.readString(out, StandardCharsets.UTF_8),
        new String(Files.readAllBytes(err), StandardCharsets.UTF_8),
        process.exitValue());
  }

  private static Page await(Future<Page> page) throws Exception {
    try {
      return page.get(4 * TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    }
  }

  private static void check(Page page, boolean hostile) {
    assertThat(page.exitCode()).as("chromium exit code; log:%n%s", tail(page.log())).isZero();
    List<String> console = new ArrayList<>();
    for (String line : page.log().split("\n")) {
      if (line.contains(":CONSOLE")
          || line.contains("Content Security Policy")
          || line.contains("Uncaught")) {
        console.add(line);
      }
    }
    assertThat(console).as("console messages (errors, CSP violations, network requests)").isEmpty();
    Matcher root = Pattern.compile("<html([^>]*)>").matcher(page.dom());
    assertThat(root.find()).as("dumped DOM has an html element:%n%s", tail(page.dom())).isTrue();
    String rootAttributes = root.group(1);
    assertThat(rootAttributes)
        .as("the page script ran to the end")
        .contains("data-render-ok=\"1\"");
    int charts = count(page.html(), "<svg class=\"chart");
    assertThat(charts).as("charts in the report").isPositive();
    assertThat(rootAttributes)
        .as("charts the page script counted")
        .contains("data-chart-count=\"" + charts + "\"");
    assertThat(count(page.dom(), "<svg class=\"chart"))
        .as("charts in the rendered DOM")
        .isEqualTo(charts);
    assertThat(count(page.dom(), "<tr class=\"finding\""))
        .isEqualTo(count(page.html(), "<tr class=\"finding\""));
    if (hostile) {
      assertThat(rootAttributes).doesNotContain("data-pwned");
      Matcher tag = Pattern.compile("<([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>").matcher(page.dom());
      while (tag.find()) {
        String name = tag.group(1).toLowerCase(Locale.ROOT);
        assertThat(name)
            .as("element from a layer name: %s", tag.group())
            .isNotIn("img", "iframe", "b", "phase", "relu");
        String attributes = tag.group(2).replaceAll("\"[^\"]*\"", "\"\"");
        assertThat(attributes)
            .as("attributes of %s", tag.group())
            .doesNotContain("data-pwned", "onerror", "onload", "onmouseover", "onclick");
      }
      // the names are in the page as text (the DOM serializer escapes < and > in text)
      assertThat(page.dom())
          .contains(
              "&lt;script&gt;document.documentElement.setAttribute('data-pwned','1')&lt;/script&gt;");
      assertThat(page.dom()).contains("couche_\u00e9t\u00e9_\u5c42_\ud83d\ude80");
    }
  }

  private static String tail(String text) {
    return text.length() <= 4000 ? text : "..." + text.substring(text.length() - 4000);
  }

  /** The Chromium binary, or a failure that says how to get one. */
  static Path chromium() {
    String configured = System.getProperty("chromium", System.getenv("CHROMIUM"));
    if (configured != null && !configured.isBlank()) {
      Path path = Path.of(configured);
      if (!Files.isExecutable(path)) {
        fail(
            "chromium set to "
                + configured
                + " (-Dchromium or CHROMIUM), but that is not an executable file");
      }
      return path;
    }
    List<Path> candidates = new ArrayList<>(List.of(Path.of("/usr/bin/chromium")));
    String pathVariable = System.getenv("PATH");
    if (pathVariable != null) {
      for (String entry : pathVariable.split(java.io.File.pathSeparator)) {
        candidates.add(Path.of(entry, "chromium"));
        candidates.add(Path.of(entry, "chromium-browser"));
      }
    }
    for (Path candidate : candidates) {
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    return fail(
        "chromium not found: the HTML report test opens reports in headless Chromium. Install"
            + " Debian's chromium package (sudo apt-get install chromium; .ci/run does this), or"
            + " point -Dchromium=PATH or CHROMIUM=PATH at a Chromium binary");
  }

  static Path repoRoot() {
    return Path.of(System.getProperty("repo.root", "..")).toAbsolutePath().normalize();
  }

  /** Every trace file under sample-traces/, in path order (CSV sidecars are not traces). */
  static List<Path> sampleTraces() throws IOException {
    Path samples = repoRoot().resolve("sample-traces");
    if (!Files.isDirectory(samples)) {
      return List.of();
    }
    try (Stream<Path> files = Files.walk(samples)) {
      return files
          .filter(Files::isRegularFile)
          .filter(p -> p.getFileName().toString().matches("(?i).*\\.(parquet|arrow|arrows|csv)"))
          .sorted()
          .toList();
    }
  }
}
