package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * docs/evaluation.md embeds the Markdown output of {@code dl-analyze eval} for some manifests, each
 * between {@code <!-- eval:NAME:begin -->} and {@code <!-- eval:NAME:end -->}. For every section
 * registered in {@link #sections()} the command runs again and its output must equal the block.
 *
 * <p>To add a manifest: add one line to {@link #sections()} (a name, the manifest relative to the
 * repository, the options of {@code eval}), put the two markers into docs/evaluation.md and run
 * this test: when a block differs, the command's output is written to {@code
 * cli/target/eval-docs/NAME.md}, to be copied between the markers (and what changed explained in
 * the text around it). A marked block no section is registered for must hold only the placeholder
 * line ({@link #PLACEHOLDER}), so that no table sits in the document unchecked.
 */
class EvaluationDocTest {
  /** How a block that no section checks yet starts. */
  static final String PLACEHOLDER = "*Not generated yet:";

  private static final Pattern BEGIN = Pattern.compile("<!-- eval:([a-z0-9-]+):begin -->\n");

  /** A block of docs/evaluation.md and the command that prints it. */
  record Section(String name, String manifest, List<String> options) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Section section(String name, String manifest, String... options) {
    return new Section(name, manifest, List.of(options));
  }

  /** The checked blocks, one line each. */
  static Stream<Section> sections() {
    return Stream.of(
        section("sample-traces", "sample-traces/manifest.json"),
        section("corpus", "corpus/manifest.json", "--per-detector", "--jobs", "2"));
  }

  private static Map<String, String> blocks() throws IOException {
    String doc = Files.readString(Python.repoRoot().resolve("docs/evaluation.md"));
    Map<String, String> blocks = new LinkedHashMap<>();
    Matcher begin = BEGIN.matcher(doc);
    while (begin.find()) {
      String name = begin.group(1);
      String end = "<!-- eval:" + name + ":end -->";
      int stop = doc.indexOf(end, begin.end());
      assertThat(stop).as("docs/evaluation.md: %s has no end marker", name).isNotNegative();
      assertThat(doc.substring(begin.end(), stop))
          .as("docs/evaluation.md: %s's block holds another begin marker", name)
          .doesNotContain("<!-- eval:");
      assertThat(blocks.put(name, doc.substring(begin.end(), stop)))
          .as("docs/evaluation.md: %s is marked twice", name)
          .isNull();
    }
    return blocks;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("sections")
  void eval_markdown_matchesTheBlockInDocsEvaluation(Section section) throws IOException {
    Path root = Python.repoRoot();
    String documented = blocks().get(section.name());
    assertThat(documented)
        .as("docs/evaluation.md has no <!-- eval:%s:begin --> marker", section.name())
        .isNotNull();
    List<String> args = new ArrayList<>();
    args.add("eval");
    args.add(root.resolve(section.manifest()).toString());
    args.add("--format");
    args.add("markdown");
    args.addAll(section.options());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int code =
        DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args.toArray(String[]::new));

    assertThat(code).as(err.toString()).isZero();
    if (!out.toString().equals(documented)) {
      Path fresh = root.resolve("cli/target/eval-docs/" + section.name() + ".md");
      Files.createDirectories(fresh.getParent());
      Files.writeString(fresh, out.toString());
      assertThat(out.toString())
          .as(
              "docs/evaluation.md's eval:%s block is out of date: the output of ./dl-analyze %s is"
                  + " in %s; put it between the markers and explain what changed",
              section.name(),
              String.join(
                  " ",
                  Stream.concat(
                          Stream.of("eval", section.manifest(), "--format", "markdown"),
                          section.options().stream())
                      .toList()),
              root.relativize(fresh))
          .isEqualTo(documented);
    }
  }

  @Test
  void docs_everyMarkedBlockIsCheckedOrAPlaceholder() throws IOException {
    List<String> registered = sections().map(Section::name).toList();

    Map<String, String> blocks = blocks();

    assertThat(blocks.keySet()).containsAll(registered);
    for (Map.Entry<String, String> block : blocks.entrySet()) {
      if (!registered.contains(block.getKey())) {
        assertThat(block.getValue().strip())
            .as("docs/evaluation.md: eval:%s is not checked by any section", block.getKey())
            .startsWith(PLACEHOLDER)
            .doesNotContain("|");
      }
    }
  }
}
