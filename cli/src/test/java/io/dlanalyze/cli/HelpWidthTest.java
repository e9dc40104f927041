package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** Every command's help wraps at spaces only, within the width, and loses no word. */
class HelpWidthTest {
  private static final List<String> COMMANDS =
      List.of(
          "",
          "analyze",
          "batch",
          "compare",
          "inspect",
          "watch",
          "convert",
          "generate",
          "eval",
          "detectors");

  /** The help of {@code command} ("" for the root) at {@code width} columns. */
  private static String help(String command, int width) {
    StringWriter out = new StringWriter();
    CommandLine cli =
        DlAnalyze.commandLine(new PrintWriter(out), new PrintWriter(new StringWriter()));
    CommandLine target = command.isEmpty() ? cli : cli.getSubcommands().get(command);
    target.getCommandSpec().usageMessage().autoWidth(false).width(width);
    target.usage(new PrintWriter(out), CommandLine.Help.Ansi.OFF);
    return out.toString();
  }

  private static List<String> words(String text) {
    List<String> words = new ArrayList<>();
    for (String word : text.trim().split("\\s+")) {
      words.add(word);
    }
    return words;
  }

  @ParameterizedTest
  @ValueSource(ints = {80, 60, 120})
  void everyCommand_linesWithinWidth_noWordSplit(int width) {
    for (String command : COMMANDS) {
      String help = help(command, width);
      for (String line : help.split("\n")) {
        if (line.length() > width) {
          assertThat(line.trim())
              .as("%s at %d: an overlong line is one word", command, width)
              .doesNotContain(" ");
        }
      }
      assertThat(words(help))
          .as("%s at %d: the same words as unwrapped", command, width)
          .isEqualTo(words(help(command, 1000)));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "analyze", "batch", "convert", "generate"})
  void knownTroubleSpots_stayWhole(String command) {
    String help = help(command, 80);
    switch (command) {
      case "" -> assertThat(help).contains("findings.parquet", ".arrows");
      case "analyze" -> assertThat(help).contains("[--detectors=ID[,ID...]]...", "(default 1e-6)");
      case "batch" -> assertThat(help).contains("findings.parquet", "summary.txt/.json/.md/.html");
      case "convert" -> assertThat(help).contains("OUT.meta.json");
      default -> assertThat(help).contains(".parquet, .arrow, .arrows or .csv");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"analyze", "batch", "convert", "generate"})
  void synopsis_continuesUnderTheFirstOptionAt80(String command) {
    String[] lines = help(command, 80).split("\n");
    String prefix = "Usage: dl-analyze " + command + " ";
    assertThat(lines[0]).startsWith(prefix).hasSizeLessThanOrEqualTo(80);
    assertThat(lines[1]).startsWith(" ".repeat(prefix.length()) + "[");
  }
}
