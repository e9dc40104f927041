package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SuggestionsTest {
  private static final List<String> COMMANDS =
      List.of("analyze", "batch", "inspect", "convert", "generate", "eval", "detectors");

  @TempDir Path dir;

  @Test
  void distance_countsInsertionsDeletionsSubstitutionsAndNeighbourSwaps() {
    assertThat(Suggestions.distance("inspect", "inspect")).isZero();
    assertThat(Suggestions.distance("inpsect", "inspect")).isEqualTo(1);
    assertThat(Suggestions.distance("inspec", "inspect")).isEqualTo(1);
    assertThat(Suggestions.distance("analyse", "analyze")).isEqualTo(1);
    assertThat(Suggestions.distance("--frmat", "--format")).isEqualTo(1);
    assertThat(Suggestions.distance("abc", "xyz")).isEqualTo(3);
  }

  @Test
  void closest_onlyNamesWithinReach_nearestFirst() {
    assertThat(Suggestions.closest("inpsect", COMMANDS)).containsExactly("inspect");
    assertThat(Suggestions.closest("Inspect", COMMANDS)).containsExactly("inspect");
    assertThat(Suggestions.closest("detector", COMMANDS)).containsExactly("detectors");
    assertThat(Suggestions.closest("gen", COMMANDS)).containsExactly("generate");
    assertThat(Suggestions.closest("run.parquet", COMMANDS)).isEmpty();
    assertThat(Suggestions.closest("x", COMMANDS)).isEmpty();
  }

  @Test
  void mistypedCommand_suggestsTheCommandInsteadOfUnmatchedArgument() {
    CliRun run =
        CliRun.of("inpsect", "x")
            .failsWith(
                ExitCodes.USAGE,
                "dl-analyze: error: 'inpsect' is neither a command nor an existing trace; did you"
                    + " mean 'inspect'?");
    assertThat(run.err()).doesNotContain("Unmatched").contains("Try 'dl-analyze --help'");
    assertThat(run.out()).isEmpty();

    CliRun.of("--verbose", "analyse", "run.parquet")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: 'analyse' is neither a command nor an existing trace; did you"
                + " mean 'analyze'?");
  }

  @Test
  void wordUnlikeAnyCommand_followedByATrace_isAnUnknownCommand_withTheCommandsListed() {
    CliRun run = CliRun.of("summary", dir.resolve("run.parquet").toString());

    assertThat(run.code()).isEqualTo(ExitCodes.USAGE);
    assertThat(run.errorLine())
        .startsWith("dl-analyze: error: 'summary' is neither a command nor an existing trace")
        .contains("(commands: analyze, ")
        .contains("inspect");
    assertThat(run.err()).doesNotContain("Unmatched");
    // alone, the same word may be a trace that does not exist: the analyze command says so
    assertThat(CliRun.of("summary").errorLine()).endsWith("summary: no such file");
  }

  @Test
  void existingFileNamedLikeACommand_isAnalysedAsATrace() throws IOException {
    Path trace = dir.resolve("inpsect");
    Files.copy(Python.repoRoot().resolve("sample-traces/traces/so-48385830-buggy.parquet"), trace);

    CliRun run = CliRun.of(trace.toString());

    assertThat(run.code()).as(run.err()).isEqualTo(ExitCodes.FAULT_FOUND);
  }

  @Test
  void missingTraceUnlikeAnyCommand_saysTheFileDoesNotExist() {
    CliRun run = CliRun.of("--format", "json", dir.resolve("nosuch.parquet").toString());

    assertThat(run.code()).isEqualTo(ExitCodes.BAD_INPUT);
    assertThat(run.errorLine()).endsWith("nosuch.parquet: no such file");
  }

  @Test
  void optionValueBeforeTheTrace_isNotTakenForACommand() {
    // "eval" is a command's name, but here it is the value of --detectors.
    CliRun run = CliRun.of("--detectors", "eval", dir.resolve("nosuch.parquet").toString());

    assertThat(run.errorLine()).doesNotContain("did you mean");
  }

  @Test
  void mistypedOption_suggestsTheOptionOfThatCommand() {
    CliRun.of("analyze", "--fromat", "json", "x")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: unknown option '--fromat'; did you mean '--format'?");
    CliRun.of("inspect", "--frmat=json", "x")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: unknown option '--frmat'; did you mean '--format'?");
    CliRun.of("batch", "x", "--out", dir.toString(), "--job", "2")
        .failsWith(
            ExitCodes.USAGE, "dl-analyze: error: unknown option '--job'; did you mean '--jobs'?");
    CliRun.of("--verbos")
        .failsWith(
            ExitCodes.USAGE,
            "dl-analyze: error: unknown option '--verbos'; did you mean '--verbose'?");
  }

  @Test
  void unknownOptionFarFromAny_namedWithoutAGuess() {
    CliRun run =
        CliRun.of("analyze", "-x", "run.parquet")
            .failsWith(ExitCodes.USAGE, "dl-analyze: error: unknown option '-x'");
    assertThat(run.err()).contains("Try 'dl-analyze analyze --help' for more information.");
  }
}
