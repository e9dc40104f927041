package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.BuiltInDetectors;
import io.dlanalyze.analyzer.DetectorInfo;
import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The repository stands on its own: every citation of docs/references.md names a section that
 * exists, every detector cites one, and no file names research notes that are not in the
 * repository.
 */
class DocsReferencesTest {
  private static final Path ROOT = Python.repoRoot();
  private static final Pattern ANCHOR = Pattern.compile("<a id=\"([a-z0-9-]+)\"></a>");
  private static final Pattern LINK = Pattern.compile("references\\.md#([a-z0-9-]+)");
  private static final Pattern MORE = Pattern.compile("#([a-z][a-z0-9-]*)");
  private static final Set<String> TEXT =
      Set.of("java", "md", "py", "xml", "sh", "yaml", "yml", "json", "txt", "html", "css", "js");

  private static Set<String> anchors() throws IOException {
    Set<String> anchors = new TreeSet<>();
    Matcher m = ANCHOR.matcher(Files.readString(ROOT.resolve("docs/references.md")));
    while (m.find()) {
      anchors.add(m.group(1));
    }
    return anchors;
  }

  /** The repository's text files, without build output, Git data and generated bench traces. */
  private static List<Path> textFiles() throws IOException {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> walk = Files.walk(ROOT)) {
      walk.filter(Files::isRegularFile)
          .filter(p -> !ROOT.relativize(p).toString().startsWith("bench/work"))
          .filter(
              p -> {
                for (Path part : ROOT.relativize(p)) {
                  String name = part.toString();
                  if (name.equals("target") || name.equals(".git") || name.equals("__pycache__")) {
                    return false;
                  }
                }
                String name = p.getFileName().toString();
                int dot = name.lastIndexOf('.');
                return dot > 0 && TEXT.contains(name.substring(dot + 1));
              })
          .sorted()
          .forEach(files::add);
    }
    return files;
  }

  private static String read(Path file) throws IOException {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (MalformedInputException e) {
      return "";
    }
  }

  @Test
  void everyLinkToReferencesNamesAnExistingSection() throws IOException {
    Set<String> anchors = anchors();
    assertThat(anchors).contains("deeplocalize-checks", "autotrainer", "parquet-read-paths");
    List<String> broken = new ArrayList<>();
    int links = 0;
    for (Path file : textFiles()) {
      Matcher m = LINK.matcher(read(file));
      while (m.find()) {
        links++;
        if (!anchors.contains(m.group(1))) {
          broken.add(ROOT.relativize(file) + ": references.md#" + m.group(1));
        }
      }
    }
    assertThat(links).as("citations of docs/references.md").isGreaterThan(40);
    assertThat(broken).isEmpty();
  }

  @Test
  void everyDetectorCitesTheSectionsOfItsRule() throws IOException {
    Set<String> anchors = anchors();
    for (DetectorInfo info : BuiltInDetectors.all()) {
      String source = info.source();
      int at = source.indexOf("docs/references.md#");
      assertThat(at).as("%s cites docs/references.md: %s", info.id(), source).isNotNegative();
      Matcher m = MORE.matcher(source.substring(at));
      while (m.find()) {
        assertThat(anchors).as("%s: %s", info.id(), source).contains(m.group(1));
      }
    }
  }

  @Test
  void noFileCitesNotesOutsideTheRepository() throws IOException {
    // Spelled in pieces so that this file does not match itself.
    List<String> outside =
        List.of(
            "../sha" + "red/",
            "/work/" + "shared",
            "DEEPLOCALIZE" + "-AND-PEERS",
            "ECOSYSTEM" + "-NOTES",
            "trace-format" + "-v1");
    List<String> found = new ArrayList<>();
    for (Path file : textFiles()) {
      String text = read(file);
      for (String name : outside) {
        if (text.contains(name)) {
          found.add(ROOT.relativize(file) + ": " + name);
        }
      }
    }
    assertThat(found).isEmpty();
  }
}
