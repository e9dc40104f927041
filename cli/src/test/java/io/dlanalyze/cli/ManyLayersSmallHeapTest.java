package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trace whose {@code dltrace.layers} lists 300,000 layers (34 MB of metadata in a 320 MB heap,
 * the launcher's) is inspected and analyzed in every output format: before the outputs were written
 * as they are produced, {@code inspect --format json} built a tree of every layer and the whole
 * text (more than 600 MB), and {@code analyze} held each report whole and copied it to bytes (issue
 * 17, item 3). Runs in cli's small-heap surefire execution ({@code -Xmx320m}); outputs go to files,
 * not to memory.
 */
class ManyLayersSmallHeapTest {
  static final int LAYERS = 300_000;

  @TempDir static Path dir;
  static Path trace;

  @BeforeAll
  static void writeTrace() {
    trace = dir.resolve("many-layers.parquet");
    MemoryTrace synthetic = MemoryTrace.of(SyntheticTrace.builder().layers(2).steps(20).build());
    List<LayerInfo> listed = new ArrayList<>(LAYERS);
    for (int i = 0; i < LAYERS; i++) {
      listed.add(new LayerInfo(i, "block" + i + ".linear", "Linear", "relu", 4160, true));
    }
    TraceMetadata metadata =
        synthetic.metadata().with(TraceMetadata.LAYERS, TraceMetadata.layersJson(listed));
    synthetic.withMetadata(metadata).write(trace, WriteOptions.defaults());
  }

  /** Runs the command line with standard output to {@code out}; returns the exit code. */
  private static int run(Path out, StringWriter err, String... args) throws IOException {
    try (Writer file = Files.newBufferedWriter(out, StandardCharsets.UTF_8);
        PrintWriter stdout = new PrintWriter(file)) {
      return DlAnalyze.run(stdout, new PrintWriter(err), args);
    }
  }

  /** The layers array of an inspect JSON report, read as a stream: count and last name. */
  private static Object[] layersOf(Path json) throws IOException {
    try (JsonParser parser = new JsonFactory().createParser(json.toFile())) {
      while (parser.nextToken() != null) {
        if (parser.currentToken() == JsonToken.FIELD_NAME
            && parser.currentName().equals("layers")
            && parser.getParsingContext().getParent().inRoot()) {
          parser.nextToken();
          int count = 0;
          String lastName = null;
          while (parser.nextToken() == JsonToken.START_OBJECT) {
            count++;
            while (parser.nextToken() != JsonToken.END_OBJECT) {
              String field = parser.currentName();
              parser.nextToken();
              if (field.equals("name")) {
                lastName = parser.getText();
              }
              parser.skipChildren();
            }
          }
          return new Object[] {count, lastName};
        }
      }
    }
    return new Object[] {0, null};
  }

  @Test
  void inspectJson_listsEveryLayer() throws IOException {
    Path out = dir.resolve("inspect.json");
    StringWriter err = new StringWriter();

    int code = run(out, err, "inspect", "--format", "json", trace.toString());

    assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
    // the model-level rows (index -1), the two layers in the data, the rest from the metadata
    assertThat(layersOf(out)).containsExactly(LAYERS + 1, "block299999.linear");
  }

  @Test
  void inspectText_listsEveryLayer() throws IOException {
    Path out = dir.resolve("inspect.txt");
    StringWriter err = new StringWriter();

    int code = run(out, err, "inspect", trace.toString());

    assertThat(code).as(err.toString()).isEqualTo(ExitCodes.OK);
    try (var lines = Files.lines(out)) {
      assertThat(lines.filter(l -> l.contains("block299999.linear")).count()).isEqualTo(1);
    }
  }

  @Test
  void analyze_everyFormat_writesTheReport() throws IOException {
    for (String format : new String[] {"json", "html", "text", "markdown"}) {
      Path report = dir.resolve("report." + format);
      StringWriter err = new StringWriter();

      int code =
          run(
              dir.resolve("stdout." + format),
              err,
              "analyze",
              trace.toString(),
              "--format",
              format,
              "-o",
              report.toString());

      assertThat(code).as(format + ": " + err).isIn(ExitCodes.OK, ExitCodes.FAULT_FOUND);
      assertThat(err.toString()).as(format).isEmpty();
      assertThat(Files.size(report)).as(format).isPositive();
    }
    // the page lists the first layers and says where the rest are; its JSON lists them all (read
    // line by line: the page is 50 MB)
    try (var lines = Files.lines(dir.resolve("report.html"))) {
      assertThat(
              lines.filter(
                  l ->
                      l.contains("297,999 more layers without findings are not listed here")
                          || l.contains("\"name\": \"block299999.linear\"")))
          .hasSize(2);
    }
  }
}
