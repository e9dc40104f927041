package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The {@code ./dl-analyze} launcher against the packaged jar (after {@code package}), on the Java
 * of the PATH and on every other JDK installed under /usr/lib/jvm: no JVM warning may reach the
 * user, and the class-data-sharing archive is written once per Java version and then used.
 */
class LauncherIT {
  private static final Path ROOT = Python.repoRoot();
  private static final Path LAUNCHER = ROOT.resolve("dl-analyze");
  private static final Path SAMPLE = ROOT.resolve("sample-traces/traces/so-48385830-buggy.parquet");

  record Run(int exitCode, String out, String err) {}

  private static Run run(String javaHome, String... args) throws IOException, InterruptedException {
    return run(javaHome, Map.of(), args);
  }

  private static Run run(String javaHome, Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(LAUNCHER.toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile());
    builder.environment().put("DL_ANALYZE_NO_BUILD", "1");
    builder.environment().remove("DL_ANALYZE_JAVA_OPTS");
    builder.environment().remove("DL_ANALYZE_CDS");
    builder.environment().putAll(env);
    if (javaHome == null) {
      builder.environment().remove("JAVA_HOME");
    } else {
      builder.environment().put("JAVA_HOME", javaHome);
    }
    Path out = Files.createTempFile("launcher", ".out");
    Path err = Files.createTempFile("launcher", ".err");
    try {
      Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
      if (!process.waitFor(180, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(
            "dl-analyze " + String.join(" ", args) + " did not finish in 180 s");
      }
      return new Run(
          process.exitValue(),
          Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /** JAVA_HOME values to test: null (the java of the PATH) and each JDK under /usr/lib/jvm. */
  private static Map<String, String> javas() throws IOException {
    Map<String, String> javas = new LinkedHashMap<>();
    javas.put("PATH", null);
    Path jvm = Path.of("/usr/lib/jvm");
    if (Files.isDirectory(jvm)) {
      try (Stream<Path> homes = Files.list(jvm)) {
        for (Path home : homes.sorted().toList()) {
          if (Files.isExecutable(home.resolve("bin/java"))
              && Files.isRegularFile(home.resolve("release"))) {
            javas.putIfAbsent(home.toRealPath().toString(), home.toRealPath().toString());
          }
        }
      }
    }
    return javas;
  }

  /** Temporary archives and class lists the launcher left in cli/target (it must leave none). */
  private static List<Path> leftovers() throws IOException {
    try (Stream<Path> files = Files.list(ROOT.resolve("cli/target"))) {
      return files
          .filter(p -> p.getFileName().toString().matches("dl-analyze-java\\d+\\.jsa\\..+"))
          .toList();
    }
  }

  private static int major(String versionOutput) {
    Matcher m = Pattern.compile("Java (\\d+)").matcher(versionOutput);
    assertThat(m.find()).as("version output: %s", versionOutput).isTrue();
    return Integer.parseInt(m.group(1));
  }

  @Test
  void version_everyInstalledJava_noWarnings() throws Exception {
    for (Map.Entry<String, String> java : javas().entrySet()) {
      Run run = run(java.getValue(), "--version");
      assertThat(run.exitCode()).as(java.getKey()).isZero();
      assertThat(run.err()).as(java.getKey()).isEmpty();
      assertThat(run.out()).as(java.getKey()).startsWith("dl-analyze ").contains("Java ");
    }
  }

  @Test
  void analyzeSample_everyInstalledJava_sameReportNoWarningsArchiveWrittenThenUsed()
      throws Exception {
    String expected = null;
    for (Map.Entry<String, String> java : javas().entrySet()) {
      int major = major(run(java.getValue(), "--version").out());
      Path archive = ROOT.resolve("cli/target/dl-analyze-java" + major + ".jsa");
      Files.deleteIfExists(archive);

      Run first = run(java.getValue(), SAMPLE.toString());
      assertThat(first.exitCode()).as(java.getKey()).isEqualTo(ExitCodes.FAULT_FOUND);
      assertThat(first.err()).as(java.getKey()).isEmpty();
      assertThat(archive).as(java.getKey()).isNotEmptyFile();

      Run second = run(java.getValue(), SAMPLE.toString());
      assertThat(second.exitCode()).as(java.getKey()).isEqualTo(ExitCodes.FAULT_FOUND);
      assertThat(second.err()).as(java.getKey()).isEmpty();
      assertThat(second.out()).as(java.getKey()).isEqualTo(first.out());
      assertThat(leftovers()).as(java.getKey()).isEmpty();
      Run shared =
          run(
              java.getValue(),
              Map.of("DL_ANALYZE_JAVA_OPTS", "-Xlog:class+load=info"),
              SAMPLE.toString());
      assertThat(shared.out())
          .as("%s: the analysis's own classes come from the archive", java.getKey())
          .contains("io.dlanalyze.cli.DlAnalyze source: shared objects file")
          .contains("io.dlanalyze.analyzer.engine.AnalysisEngine source: shared objects file");
      if (major == 17) {
        // Java 5 class files: a static archive holds them (on 17), one dumped at exit never did.
        assertThat(shared.out())
            .as("%s: picocli's classes come from the archive", java.getKey())
            .contains("picocli.CommandLine source: shared objects file");
      }
      if (expected == null) {
        expected = first.out();
      }
      assertThat(first.out()).as(java.getKey()).isEqualTo(expected);
    }
  }

  @Test
  void outOfMemory_oneLineErrorWithTheRemedyAndNoOutput() throws Exception {
    // 100,000 layers, one row each: the per-layer state of the detectors does not fit in 64 MB.
    Path dir = Files.createTempDirectory("launcher-oom");
    Path trace = dir.resolve("wide.csv");
    StringBuilder csv =
        new StringBuilder(
            "epoch,batch,step,layer_index,layer_name,layer_type,phase,mean,std,min,max,l2_norm,zero_fraction,nan_count,inf_count,numel\n");
    for (int step = 0; step < 100_000; step++) {
      csv.append("0,")
          .append(step)
          .append(',')
          .append(step)
          .append(',')
          .append(step)
          .append(",l")
          .append(step)
          .append(",Linear,forward,0.5,0.1,0,1,1.0,0.0,0,0,10\n");
    }
    Files.writeString(trace, csv);
    Path report = dir.resolve("report.txt");

    Run run =
        run(
            null,
            Map.of("DL_ANALYZE_JAVA_OPTS", "-Xmx64m"),
            trace.toString(),
            "-o",
            report.toString());

    assertThat(run.exitCode()).isEqualTo(ExitCodes.SOFTWARE);
    assertThat(run.err().lines().toList())
        .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .startsWith("dl-analyze: error: out of memory with a heap of ")
        .endsWith("run with more, e.g. DL_ANALYZE_JAVA_OPTS=-Xmx2g");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.toList()).containsExactly(trace);
    }
    Files.delete(trace);
    Files.delete(dir);
  }
}
