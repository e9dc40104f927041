package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./dl-analyze} launcher's own logic, in a copy of the script beside a fake source tree,
 * a fake {@code mvn} on the PATH and a fake JDK (a {@code java} that prints its arguments): when it
 * rebuilds, what it does when the build fails, which JVM flags it passes for which Java version.
 */
class LauncherScriptTest {
  private static final Instant OLD = Instant.parse("2026-01-01T00:00:00Z");
  private static final Instant NEW = Instant.parse("2026-02-01T00:00:00Z");

  @TempDir Path dir;
  private Path root;
  private Path jar;
  private Path source;
  private Path bin;
  private Path jdk;

  record Run(int exitCode, String out, String err) {}

  private static void script(Path path, String body) throws IOException {
    Files.writeString(path, "#!/usr/bin/env bash\n" + body + "\n", StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @BeforeEach
  void layOut() throws IOException {
    root = dir.resolve("repo");
    Files.createDirectories(root);
    Files.copy(Python.repoRoot().resolve("dl-analyze"), root.resolve("dl-analyze"));
    Files.writeString(root.resolve("pom.xml"), "<project/>");
    for (String module : List.of("trace-format", "analyzer", "batch")) {
      Files.createDirectories(root.resolve(module).resolve("src/main/java"));
    }
    source = root.resolve("cli/src/main/java/Main.java");
    Files.createDirectories(source.getParent());
    Files.writeString(source, "class Main {}");
    Files.createDirectories(root.resolve("cli/target/lib"));
    jar = root.resolve("cli/target/dl-analyze.jar");
    Files.writeString(jar, "jar");
    // A fake Maven: logs its arguments and "builds" by touching the jar; MVN_FAIL=1 fails.
    bin = dir.resolve("bin");
    Files.createDirectories(bin);
    script(
        bin.resolve("mvn"),
        """
        echo "mvn $*" >> "$PWD/mvn.log"
        if [ "${MVN_FAIL:-}" = 1 ]; then printf '\\e[0m[ERROR] compilation failed\\n'; exit 1; fi
        printf '\\e[0m\\e[0m'
        touch cli/target/dl-analyze.jar\
        """);
    jdk = dir.resolve("jdk");
    Files.createDirectories(jdk.resolve("bin"));
    script(jdk.resolve("bin/java"), "echo \"java $*\"");
    javaVersion("17.0.15");
    Files.setLastModifiedTime(source, FileTime.from(OLD));
    Files.setLastModifiedTime(root.resolve("pom.xml"), FileTime.from(OLD));
    Files.setLastModifiedTime(jar, FileTime.from(NEW));
  }

  private void javaVersion(String version) throws IOException {
    Files.writeString(jdk.resolve("release"), "JAVA_VERSION=\"" + version + "\"\n");
  }

  private Run run(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    ProcessBuilder builder =
        new ProcessBuilder(concat(root.resolve("dl-analyze").toString(), args))
            .directory(dir.toFile());
    Map<String, String> environment = builder.environment();
    environment.remove("DL_ANALYZE_NO_BUILD");
    environment.remove("DL_ANALYZE_JAVA_OPTS");
    environment.put("DL_ANALYZE_CDS", "0");
    environment.put("JAVA_HOME", jdk.toString());
    environment.put("PATH", bin + ":" + System.getenv("PATH"));
    environment.putAll(env);
    Process process = builder.start();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("launcher did not finish");
    }
    return new Run(
        process.exitValue(),
        new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
        new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
  }

  private static String[] concat(String first, String... rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }

  private boolean built() {
    return Files.exists(root.resolve("mvn.log"));
  }

  @Test
  void jarNewerThanSources_runsJavaWithoutBuilding() throws Exception {
    Run run = run(Map.of(), "analyze", "t.parquet");

    assertThat(run.exitCode()).isZero();
    assertThat(built()).isFalse();
    assertThat(run.err()).isEmpty();
    assertThat(run.out())
        .isEqualTo(
            "java --add-opens=java.base/java.nio=ALL-UNNAMED -XX:+UseParallelGC -Xmx320m -Xss4m"
                + " -jar "
                + jar
                + " analyze t.parquet\n");
  }

  @Test
  void sourceNewerThanJar_buildsOnceQuietlyThenRuns() throws Exception {
    Files.setLastModifiedTime(source, FileTime.from(Instant.now().plusSeconds(60)));

    Run run = run(Map.of(), "--version");

    assertThat(run.exitCode()).isZero();
    assertThat(Files.readString(root.resolve("mvn.log")))
        .isEqualTo(
            "mvn -q -B -Dstyle.color=never -DskipTests -Drelease.skip=true -pl cli -am package\n");
    assertThat(run.err()).isEqualTo("dl-analyze: building (first use or sources changed)...\n");
    assertThat(run.out()).endsWith("-jar " + jar + " --version\n");
  }

  @Test
  void pomOrResourceNewerThanJar_builds() throws Exception {
    Path resource = root.resolve("analyzer/src/main/resources/defaults.json");
    Files.createDirectories(resource.getParent());
    Files.writeString(resource, "{}");
    Files.setLastModifiedTime(resource, FileTime.from(Instant.now().plusSeconds(60)));

    assertThat(run(Map.of(), "--version").exitCode()).isZero();
    assertThat(built()).isTrue();
  }

  @Test
  void newerFilesUnderTarget_doNotCount() throws Exception {
    Path generated = root.resolve("analyzer/target/generated-sources/X.java");
    Files.createDirectories(generated.getParent());
    Files.writeString(generated, "class X {}");
    Files.setLastModifiedTime(generated, FileTime.from(Instant.now().plusSeconds(60)));

    assertThat(run(Map.of(), "--version").exitCode()).isZero();
    assertThat(built()).isFalse();
  }

  @Test
  void jarMissing_builds() throws Exception {
    Files.delete(jar);

    assertThat(run(Map.of(), "--version").exitCode()).isZero();
    assertThat(built()).isTrue();
  }

  @Test
  void buildFails_exitsOneWithTheBuildOutputAndAHint() throws Exception {
    Files.delete(jar);

    Run run = run(Map.of("MVN_FAIL", "1"), "--version");

    assertThat(run.exitCode()).isEqualTo(1);
    assertThat(run.out()).isEmpty();
    assertThat(run.err())
        .isEqualTo(
            "dl-analyze: building (first use or sources changed)...\n"
                + "[ERROR] compilation failed\n"
                + "dl-analyze: error: build failed; run 'mvn -pl cli -am package' in "
                + root
                + " to see why\n");
  }

  @Test
  void noBuild_staleSource_runsTheJarAsItIs() throws Exception {
    Files.setLastModifiedTime(source, FileTime.from(Instant.now().plusSeconds(60)));

    Run run = run(Map.of("DL_ANALYZE_NO_BUILD", "1"), "--version");

    assertThat(run.exitCode()).isZero();
    assertThat(built()).isFalse();
  }

  @Test
  void java25_enablesNativeAccessAndUnsafeMemoryAccess() throws Exception {
    javaVersion("25.0.3");

    Run run = run(Map.of(), "--version");

    assertThat(run.out())
        .isEqualTo(
            "java --add-opens=java.base/java.nio=ALL-UNNAMED -XX:+UseParallelGC -Xmx320m -Xss4m"
                + " --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -jar "
                + jar
                + " --version\n");
  }

  @Test
  void java22_enablesNativeAccessOnly() throws Exception {
    javaVersion("22.0.2");

    assertThat(run(Map.of(), "--version").out())
        .contains(" --enable-native-access=ALL-UNNAMED ")
        .doesNotContain("--sun-misc-unsafe-memory-access");
  }

  /** A file of this many bytes in the test directory (sparse: no blocks written). */
  private Path traceOf(String name, long bytes) throws IOException {
    Path trace = dir.resolve(name);
    try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(trace.toFile(), "rw")) {
      file.setLength(bytes);
    }
    return trace;
  }

  @Test
  void oneSmallTrace_isAnalysedWithC1Only() throws Exception {
    Path trace = traceOf("run.parquet", 34L << 20);

    assertThat(run(Map.of(), trace.toString()).out()).contains(" -XX:TieredStopAtLevel=1 ");
    assertThat(run(Map.of(), "analyze", "--mode", "deeplocalize", trace.toString()).out())
        .contains(" -XX:TieredStopAtLevel=1 ");
  }

  @Test
  void traceLargerThan256MiB_keepsC2() throws Exception {
    Path trace = traceOf("large.parquet", 300L << 20);

    assertThat(run(Map.of(), trace.toString()).out()).doesNotContain("TieredStopAtLevel");
  }

  @Test
  void commandsOverManyTracesOrNone_keepC2() throws Exception {
    Path trace = traceOf("run.parquet", 1 << 20);

    assertThat(run(Map.of(), "batch", trace.toString()).out()).doesNotContain("TieredStopAtLevel");
    assertThat(run(Map.of(), "eval", trace.toString()).out()).doesNotContain("TieredStopAtLevel");
    assertThat(run(Map.of(), "--version").out()).doesNotContain("TieredStopAtLevel");
  }

  @Test
  void javaOpts_canGiveC2BackToASmallTrace() throws Exception {
    Path trace = traceOf("run.parquet", 1 << 20);

    Run run = run(Map.of("DL_ANALYZE_JAVA_OPTS", "-XX:TieredStopAtLevel=4"), trace.toString());

    assertThat(run.out())
        .containsSubsequence("-XX:TieredStopAtLevel=1", "-XX:TieredStopAtLevel=4 -jar ");
  }

  @Test
  void javaOpts_comeAfterTheLaunchersFlags() throws Exception {
    Run run = run(Map.of("DL_ANALYZE_JAVA_OPTS", "-Xmx1g -Dx=y"), "--version");

    assertThat(run.out()).contains("-Xmx320m -Xss4m -Xmx1g -Dx=y -jar ");
  }
}
