package io.dlanalyze.trace.tensorboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Test helpers: the committed TensorBoard fixtures, and a trace read (through {@link MemoryTrace})
 * into rows shaped for comparing with the generator's numpy facts.
 */
final class TbRows {
  private TbRows() {}

  /** One trace row; statistics a row does not carry are NaN, a null numel is -1. */
  record Row(
      long step,
      int epoch,
      int batch,
      int layerIndex,
      String layerName,
      String layerType,
      String phase,
      double mean,
      double std,
      double min,
      double max,
      double l2,
      long numel,
      boolean zeroFractionNull,
      boolean nanCountNull) {}

  /** A fixture run directory (trace-format/src/test/resources/tensorboard/NAME). */
  static Path fixture(String name) {
    try {
      return Path.of(TbRows.class.getResource("/tensorboard/" + name).toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The numpy-side facts the generator wrote beside a fixture. */
  static JsonNode expected(String name) {
    try {
      return new ObjectMapper().readTree(Files.readAllBytes(fixture(name + ".expected.json")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every event file under a directory, in path order. */
  static List<Path> eventFiles(Path run) {
    try (Stream<Path> files = Files.walk(run)) {
      return files.filter(p -> p.getFileName().toString().contains("tfevents")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads a whole trace, in small batches so batch boundaries are crossed. */
  static List<Row> read(TraceReader reader) {
    List<Row> rows = new ArrayList<>();
    for (MemoryTrace.Row r : MemoryTrace.copyOf(reader).rows()) {
      rows.add(
          new Row(
              r.step(),
              r.epoch(),
              r.batch(),
              r.layerIndex(),
              r.layerName(),
              r.layerType(),
              r.phase(),
              r.mean(),
              orNaN(r.std()),
              orNaN(r.min()),
              orNaN(r.max()),
              orNaN(r.l2Norm()),
              r.numel() == null ? -1 : r.numel(),
              r.zeroFraction() == null,
              r.nanCount() == null && r.infCount() == null));
    }
    return rows;
  }

  static List<Row> read(Path run) {
    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all().withBatchRows(7))) {
      return read(reader);
    }
  }

  private static double orNaN(Double value) {
    return value == null ? Double.NaN : value;
  }

  /** The rows of one phase (and layer, for per-layer phases), in order. */
  static List<Row> of(List<Row> rows, String phase, String layer) {
    List<Row> kept = new ArrayList<>();
    for (Row row : rows) {
      if (row.phase().equals(phase) && (layer == null || row.layerName().equals(layer))) {
        kept.add(row);
      }
    }
    return kept;
  }
}
