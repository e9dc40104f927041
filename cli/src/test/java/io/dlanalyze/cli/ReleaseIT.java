package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive (after {@code package}), unpacked and run the way a user without Maven runs
 * it: {@code bin/dl-analyze} with a PATH that holds java and the basic POSIX tools but no mvn, no
 * JAVA_HOME, and a fresh home directory for the class-data-sharing archive.
 */
class ReleaseIT {
  private static final String SAMPLE = "sample-traces/traces/so-48385830-buggy.parquet";

  /** What the launcher runs besides java; sh itself comes from its first line. */
  private static final List<String> TOOLS =
      List.of("sed", "dirname", "ls", "cksum", "cut", "find", "head", "mkdir", "mv", "rm");

  @TempDir static Path dir;
  private static Path release;
  private static Path path;

  record Run(int exitCode, String out, String err) {}

  private static Path archive(String extension) {
    String base = System.getProperty("release.archive");
    assertThat(base).as("failsafe sets release.archive").isNotNull();
    Path file = Path.of(base + extension);
    assertThat(file).as("the release archive; run mvn package first").isRegularFile();
    return file;
  }

  private static Run exec(Path cwd, Map<String, String> env, String... command)
      throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command).directory(cwd.toFile());
    builder.environment().clear();
    builder.environment().putAll(env);
    Path out = Files.createTempFile(dir, "run", ".out");
    Path err = Files.createTempFile(dir, "run", ".err");
    Process process = builder.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!process.waitFor(180, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      fail(String.join(" ", command) + " did not finish in 180 s");
    }
    return new Run(
        process.exitValue(),
        Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  /** The launcher in the unpacked release, with only PATH and HOME (plus {@code extra}) set. */
  private static Run launch(Map<String, String> extra, String... args)
      throws IOException, InterruptedException {
    Map<String, String> env = new TreeMap<>();
    env.put("PATH", path.toString());
    env.put("HOME", dir.resolve("home").toString());
    env.putAll(extra);
    List<String> command = new ArrayList<>();
    command.add("bin/dl-analyze");
    command.addAll(List.of(args));
    return exec(release, env, command.toArray(String[]::new));
  }

  private static Run launch(String... args) throws IOException, InterruptedException {
    return launch(Map.of(), args);
  }

  private static Path which(String tool) {
    for (String entry : System.getenv("PATH").split(":")) {
      Path candidate = Path.of(entry, tool);
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    return fail("%s is not on the PATH of the test", tool);
  }

  private static void script(Path file, String body) throws IOException {
    Files.createDirectories(file.getParent());
    Files.writeString(file, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  @BeforeAll
  static void unpack() throws Exception {
    Path unpacked = Files.createDirectories(dir.resolve("unpacked"));
    Run tar =
        exec(
            dir,
            Map.of("PATH", System.getenv("PATH")),
            "tar",
            "-xzf",
            archive(".tar.gz").toString(),
            "-C",
            unpacked.toString());
    assertThat(tar.exitCode()).as(tar.err()).isZero();
    try (Stream<Path> top = Files.list(unpacked)) {
      List<Path> dirs = top.toList();
      assertThat(dirs).hasSize(1);
      release = dirs.get(0);
    }
    // A PATH with java and the launcher's tools, each linked on its own: no mvn can be on it.
    path = Files.createDirectories(dir.resolve("path"));
    Files.createSymbolicLink(
        path.resolve("java"), Path.of(System.getProperty("java.home"), "bin", "java"));
    for (String tool : TOOLS) {
      Files.createSymbolicLink(path.resolve(tool), which(tool));
    }
    Files.createDirectories(dir.resolve("home"));
  }

  @Test
  void layout_launcherJarsDocsCompletionAndSamples() {
    assertThat(release.getFileName().toString()).startsWith("dl-analyze-");
    assertThat(release.resolve("bin/dl-analyze")).isExecutable();
    assertThat(release.resolve("lib/dl-analyze.jar")).isRegularFile();
    assertThat(release.resolve("lib")).isDirectoryContaining("glob:**/picocli-*.jar");
    assertThat(release.resolve("lib")).isDirectoryContaining("glob:**/analyzer-*.jar");
    assertThat(release.resolve("README.md")).isRegularFile();
    assertThat(release.resolve("docs/cli.md")).isRegularFile();
    assertThat(release.resolve("docs/references.md")).isRegularFile();
    assertThat(release.resolve("share/bash-completion/completions/dl-analyze")).isRegularFile();
    assertThat(release.resolve(SAMPLE)).isRegularFile();
    assertThat(release.resolve("sample-traces/manifest.json")).isRegularFile();
  }

  @Test
  void sampleTrace_withoutMaven_faultFoundSameReportArchiveWrittenThenUsed() throws Exception {
    Run noMaven = exec(release, Map.of("PATH", path.toString()), "/bin/sh", "-c", "command -v mvn");
    assertThat(noMaven.exitCode()).as("mvn must not be on the PATH: %s", noMaven.out()).isNotZero();
    Path cache = dir.resolve("home/.cache/dl-analyze");

    Run first = launch(SAMPLE);

    assertThat(first.exitCode()).as(first.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(first.err()).isEmpty();
    String absolute = release.resolve(SAMPLE).toString();
    assertThat(first.out()).isEqualTo(CliRun.of(absolute).out().replace(absolute, SAMPLE));
    assertThat(first.out()).contains("Verdict: BUGGY");
    List<Path> archives;
    try (Stream<Path> files = Files.walk(cache)) {
      archives = files.filter(Files::isRegularFile).toList();
    }
    assertThat(archives).as("one archive and no class list left behind: %s", archives).hasSize(1);
    assertThat(archives.get(0)).isNotEmptyFile().hasExtension("jsa");

    Run second = launch(SAMPLE);

    assertThat(second.exitCode()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(second.err()).isEmpty();
    assertThat(second.out()).isEqualTo(first.out());
    Run shared = launch(Map.of("DL_ANALYZE_JAVA_OPTS", "-Xlog:class+load=info"), SAMPLE);
    assertThat(shared.out())
        .as("the analysis's own classes come from the archive")
        .contains("io.dlanalyze.cli.DlAnalyze source: shared objects file")
        .contains("io.dlanalyze.analyzer.engine.AnalysisEngine source: shared objects file");
  }

  @Test
  void version_andThroughASymbolicLinkOnThePath() throws Exception {
    Run run = launch("--version");
    assertThat(run.exitCode()).isZero();
    assertThat(run.out())
        .startsWith("dl-analyze " + release.getFileName().toString().substring(11));

    Path links = Files.createDirectories(dir.resolve("links"));
    Files.createSymbolicLink(links.resolve("dl-analyze"), release.resolve("bin/dl-analyze"));
    Run linked =
        exec(
            dir,
            Map.of("PATH", links + ":" + path, "HOME", dir.resolve("home").toString()),
            "/bin/sh",
            "-c",
            "dl-analyze --version");
    assertThat(linked.exitCode()).as(linked.err()).isZero();
    assertThat(linked.out()).isEqualTo(run.out());
  }

  @Test
  void noUsableJava_oneLineErrorExit1() throws Exception {
    Run badHome = launch(Map.of("JAVA_HOME", "/nonexistent"), "--version");
    assertThat(badHome.exitCode()).isEqualTo(1);
    assertThat(badHome.err())
        .isEqualTo(
            "dl-analyze: error: JAVA_HOME is '/nonexistent' but /nonexistent/bin/java is not a"
                + " program; set JAVA_HOME to a Java 17 or later installation, or unset it to use"
                + " the java on the PATH\n");

    Path jdk11 = dir.resolve("jdk11");
    script(jdk11.resolve("bin/java"), "echo 'openjdk version \"11.0.2\" 2019-01-15' >&2");
    Run old = launch(Map.of("JAVA_HOME", jdk11.toString()), "--version");
    assertThat(old.exitCode()).isEqualTo(1);
    assertThat(old.err())
        .isEqualTo(
            "dl-analyze: error: "
                + jdk11.resolve("bin/java")
                + " is Java 11.0.2; dl-analyze needs Java 17 or later (set JAVA_HOME to one)\n");

    Path noJava = Files.createDirectories(dir.resolve("no-java"));
    for (String tool : TOOLS) {
      if (!Files.exists(noJava.resolve(tool))) {
        Files.createSymbolicLink(noJava.resolve(tool), which(tool));
      }
    }
    Run none = launch(Map.of("PATH", noJava.toString()), "--version");
    assertThat(none.exitCode()).isEqualTo(1);
    assertThat(none.err().lines().count()).isEqualTo(1);
    assertThat(none.err()).startsWith("dl-analyze: error: no java on the PATH");
  }

  @Test
  void completion_bashAndZshOfferCommandsAndOptionValues() throws Exception {
    String script = release.resolve("share/bash-completion/completions/dl-analyze").toString();
    Run bash =
        exec(
            release,
            Map.of("PATH", System.getenv("PATH")),
            "bash",
            "-c",
            "source '"
                + script
                + "'; complete -p dl-analyze;"
                + " COMP_WORDS=(dl-analyze ins); COMP_CWORD=1; _complete_dl-analyze 2>/dev/null;"
                + " echo \"[${COMPREPLY[*]}]\";"
                + " COMP_WORDS=(dl-analyze analyze --format ''); COMP_CWORD=3;"
                + " _complete_dl-analyze 2>/dev/null; echo \"[${COMPREPLY[*]}]\"");
    assertThat(bash.exitCode()).as(bash.err()).isZero();
    assertThat(bash.out())
        .contains("-F _complete_dl-analyze dl-analyze")
        .contains("[inspect]")
        .contains("[text json markdown html]");

    Path zsh = Path.of("/usr/bin/zsh");
    if (!Files.isExecutable(zsh)) {
      fail("this test needs zsh: run .ci/run, or apt-get install zsh");
    }
    Run z =
        exec(
            release,
            Map.of("PATH", System.getenv("PATH"), "HOME", dir.resolve("home").toString()),
            zsh.toString(),
            "-f",
            "-c",
            "autoload -U +X compinit && compinit -u -D; source '"
                + script
                + "'; print -r -- \"[${_comps[dl-analyze]}]\"; setopt ksharrays;"
                + " COMP_WORDS=(dl-analyze analyze --mode ''); COMP_CWORD=3;"
                + " _complete_dl-analyze 2>/dev/null; print -r -- \"[${COMPREPLY[*]}]\"");
    assertThat(z.exitCode()).as(z.err()).isZero();
    assertThat(z.out()).contains("-F _complete_dl-analyze").contains("[default deeplocalize]");
  }

  @Test
  void zip_sameEntriesAsTheTarballAndAnExecutableLauncher() throws Exception {
    Map<String, String> env = Map.of("PATH", System.getenv("PATH"));
    Run tar = exec(dir, env, "tar", "-tzf", archive(".tar.gz").toString());
    Run zip = exec(dir, env, "unzip", "-Z1", archive(".zip").toString());
    assertThat(zip.exitCode()).as(zip.err()).isZero();
    assertThat(sorted(zip.out())).isEqualTo(sorted(tar.out()));
    Run modes = exec(dir, env, "zipinfo", archive(".zip").toString(), "*/bin/dl-analyze");
    assertThat(modes.out()).startsWith("-rwxr-xr-x");
  }

  /**
   * The files of an archive listing, sorted (the formats differ in which directories they list).
   */
  private static List<String> sorted(String lines) {
    return lines.lines().filter(l -> !l.endsWith("/")).sorted().toList();
  }
}
