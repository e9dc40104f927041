package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** eval on manifests whose cases cannot be analysed: a non-zero exit, one line, no hang. */
class EvalRobustnessTest {
  @TempDir Path dir;

  private Path manifest(String casesJson) throws IOException {
    return Files.writeString(dir.resolve("manifest.json"), "{\"cases\": [" + casesJson + "]}");
  }

  private static String fixedCase(String id, String trace) {
    return "{\"id\": \"" + id + "\", \"trace\": \"" + trace + "\", \"buggy\": false}";
  }

  @Test
  void nulInATracePath_badManifestInOneLine() throws IOException {
    Path manifest = manifest(fixedCase("nul", "traces/a\\u0000b.parquet"));

    CliRun.of("eval", manifest.toString())
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: "
                + manifest
                + ": cases[0] (nul): \"trace\" is not a valid path: traces/a\\u0000b.parquet"
                + " (Nul character not allowed)");
  }

  @Test
  void casesThatCannotBeAnalysed_tablePrinted_exitFour() throws Exception {
    Path fifo = dir.resolve("pipe.csv");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    Files.createDirectory(dir.resolve("adir"));
    Path manifest =
        manifest(
            String.join(
                ",",
                fixedCase("missing", "gone.parquet"),
                fixedCase("directory", "adir"),
                fixedCase("passwd", "/etc/passwd"),
                fixedCase("zero", "/dev/zero"),
                fixedCase("pipe", "pipe.csv")));

    CliRun run = CliRun.of("eval", manifest.toString());

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(run.errorLine())
        .isEqualTo(
            "dl-analyze: error: "
                + manifest
                + ": 5 of 5 cases could not be analysed (see the error column)");
    assertThat(run.out())
        .contains("missing", "directory", "passwd", "zero", "pipe")
        .contains("5 case(s) could not be analysed");
    run.assertNoStackTrace();
  }

  @Test
  void hugeManifest_refusedWithoutReadingItAll() {
    CliRun.of("eval", "/dev/zero")
        .failsWith(
            ExitCodes.BAD_INPUT,
            "dl-analyze: error: /dev/zero: larger than 16 MiB: not a manifest");
  }
}
