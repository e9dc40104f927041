package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.DetectorInfo;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * docs/cli.md's table "When each detector reports" names every detector that watch runs (the
 * default mode's), once: a new detector is documented there, as one that reports during the run or
 * at its end.
 */
class WatchDocTest {
  @Test
  void theWatchTable_namesEveryDetectorOfTheDefaultMode() throws IOException {
    String docs =
        Files.readString(Python.repoRoot().resolve("docs/cli.md"), StandardCharsets.UTF_8);
    int start = docs.indexOf("### When each detector reports");
    assertThat(start).isPositive();
    Set<String> documented = new TreeSet<>();
    int rows = 0;
    for (String line : docs.substring(start).split("\n")) {
      if (line.startsWith("| detector ") || line.startsWith("|---")) {
        continue;
      }
      if (!line.startsWith("| ")) {
        if (rows > 0) {
          break;
        }
        continue;
      }
      rows++;
      for (String id : line.substring(2, line.indexOf(" |", 1)).split(", ")) {
        assertThat(documented.add(id.strip())).as("%s listed once", id).isTrue();
      }
    }
    Set<String> registered = new TreeSet<>();
    for (DetectorInfo info : new Analyzer().registry()) {
      if (info.runsIn(AnalysisMode.DEFAULT)) {
        registered.add(info.id());
      }
    }
    assertThat(documented).isEqualTo(registered);
  }
}
