package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile and absurd input through the real command line: every case ends with its documented exit
 * code and one error line naming the file, never a stack trace or a damaged input.
 */
class BadInputTest {
  @TempDir Path dir;

  /** A 3-layer, 200-step CSV trace with a NaN fault at step 120 (and its sidecar). */
  private Path csv(String name) {
    Path path = dir.resolve(name);
    CliRun run =
        CliRun.of("generate", path.toString(), "--layers", "3", "--steps", "200", "--fault", "nan:1:120");
    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.OK);
    return path;
  }

  /** The CSV trace {@code name} with {@code edit} applied to every data row's fields. */
  private Path csvWithRows(String name, UnaryOperator<String[]> edit) throws IOException {
    Path path = csv(name);
    List<String> lines = Files.readAllLines(path);
    List<String> edited = new ArrayList<>(lines.size());
    edited.add(lines.get(0));
    for (String line : lines.subList(1, lines.size())) {
      edited.add(String.join(",", edit.apply(line.split(",", -1))));
    }
    Files.write(path, edited);
    return path;
  }

  @Test
  void analyze_negativeStep_badInputNamingTheRow() throws IOException {
    Path trace =
        csvWithRows(
            "negative.csv",
            f -> {
              f[2] = Long.toString(Long.MIN_VALUE + Long.parseLong(f[2]));
              return f;
            });

    for (String mode : new String[] {"default", "deeplocalize"}) {
      CliRun.of("analyze", trace.toString(), "--mode", mode)
          .failsWith(
              ExitCodes.BAD_INPUT,
              "dl-analyze: error: " + trace + ": row 0: step must not be negative: -9223372036854775808");
    }
  }

  @Test
  void analyzeHtml_stepsSpanningZeroToLongMax_writesThePage() throws IOException {
    long stride = Long.MAX_VALUE / 199;
    Path trace =
        csvWithRows(
            "spread.csv",
            f -> {
              f[2] = Long.toString(Long.parseLong(f[2]) * stride);
              return f;
            });
    Path html = dir.resolve("spread.html");

    CliRun run = CliRun.of("analyze", trace.toString(), "--format", "html", "-o", html.toString());

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
    assertThat(run.err()).isEmpty();
    assertThat(Files.readString(html)).contains("</html>");
  }
}
