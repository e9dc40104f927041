package io.dlanalyze.trace.arrow;

import static io.dlanalyze.trace.arrow.ForeignArrow.FLOAT64;
import static io.dlanalyze.trace.arrow.ForeignArrow.INT32;
import static io.dlanalyze.trace.arrow.ForeignArrow.INT64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Arrow parts of other writers: each part has its own dictionaries (the strings are mapped to one
 * dictionary for the whole trace), and every part must have the first one's columns.
 */
class ArrowPartsTest {
  @TempDir Path dir;

  private static ForeignArrow part(boolean std, String... phases) {
    ForeignArrow arrow =
        new ForeignArrow()
            .column("epoch", INT32)
            .column("batch", INT32)
            .column("step", INT64)
            .column("layer_index", INT32)
            .dictionaryColumn("layer_name", 32, "fc0", "fc1")
            .dictionaryColumn("phase", 32, phases)
            .column("mean", FLOAT64);
    return std ? arrow.column("std", FLOAT64) : arrow;
  }

  private static List<Object> row(long step, int layer, int phase, double mean) {
    return List.of(0, (int) step, step, layer, layer, phase, mean, 0.5);
  }

  @Test
  void partsWithTheirOwnDictionaries_readAsOneTrace() throws Exception {
    Path parts = Files.createDirectories(dir.resolve("run"));
    // the same strings at other indices in each part
    part(true, "forward", "grad_norm")
        .write(
            parts.resolve("part-0.arrows"),
            false,
            Map.of(),
            List.of(List.of(row(0, 0, 0, 1.0), row(0, 1, 1, 2.0))),
            null);
    part(true, "grad_norm", "forward")
        .write(
            parts.resolve("part-1.arrows"),
            false,
            Map.of(),
            List.of(List.of(row(1, 0, 1, 3.0), row(1, 1, 0, 4.0))),
            null);
    try (TraceReader reader = TraceReaders.open(parts, ReadOptions.all())) {
      List<String> rows = new java.util.ArrayList<>();
      for (MemoryTrace.Row row : MemoryTrace.copyOf(reader).rows()) {
        rows.add(row.step() + " " + row.layerName() + " " + row.phase() + " " + row.mean());
      }
      assertThat(rows)
          .containsExactly(
              "0 fc0 forward 1.0",
              "0 fc1 grad_norm 2.0",
              "1 fc0 forward 3.0",
              "1 fc1 grad_norm 4.0");
      // unknown phases are counted over the whole trace
      assertThat(reader.warnings())
          .containsExactly(
              "unknown phase 'grad_norm' in 2 rows: the rows are kept, but no detector reads them");
    }
  }

  @Test
  void aPartWithoutAColumnOfTheFirst_isAnErrorNamingIt() throws Exception {
    Path parts = Files.createDirectories(dir.resolve("run"));
    part(true, "forward")
        .write(
            parts.resolve("part-0.arrows"),
            false,
            Map.of(),
            List.of(List.of(row(0, 0, 0, 1))),
            null);
    part(false, "forward")
        .write(
            parts.resolve("part-1.arrows"),
            false,
            Map.of(),
            List.of(List.of(List.of(0, 1, 1L, 0, 0, 0, 1.0))),
            null);
    assertThatThrownBy(
            () -> {
              try (TraceReader reader = TraceReaders.open(parts, ReadOptions.all())) {
                TraceRows.text(reader);
              }
            })
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("part-1.arrows")
        .hasMessageContaining(
            "column 'std' is missing here but present in the first part file part-0.arrows");
  }
}
