package io.dlanalyze.trace.tensorboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
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

/** Test helpers: the committed TensorBoard fixtures, and a trace read into plain rows. */
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
    TraceBatch batch = reader.batch();
    while (reader.next()) {
      for (int r = 0; r < batch.size(); r++) {
        rows.add(
            new Row(
                batch.longs(Column.STEP)[r],
                batch.ints(Column.EPOCH)[r],
                batch.ints(Column.BATCH)[r],
                batch.ints(Column.LAYER_INDEX)[r],
                batch.dictionary().layerName(batch.ints(Column.LAYER_NAME)[r]),
                batch.isNull(Column.LAYER_TYPE, r)
                    ? null
                    : batch.dictionary().layerType(batch.ints(Column.LAYER_TYPE)[r]),
                batch.dictionary().phaseName(batch.ints(Column.PHASE)[r]),
                batch.doubles(Column.MEAN)[r],
                value(batch, Column.STD, r),
                value(batch, Column.MIN, r),
                value(batch, Column.MAX, r),
                value(batch, Column.L2_NORM, r),
                batch.isNull(Column.NUMEL, r) ? -1 : batch.longs(Column.NUMEL)[r],
                batch.isNull(Column.ZERO_FRACTION, r),
                batch.isNull(Column.NAN_COUNT, r) && batch.isNull(Column.INF_COUNT, r)));
      }
    }
    return rows;
  }

  static List<Row> read(Path run) {
    try (TraceReader reader = TraceReaders.open(run, ReadOptions.all().withBatchRows(7))) {
      return read(reader);
    }
  }

  private static double value(TraceBatch batch, Column column, int row) {
    return batch.isNull(column, row) ? Double.NaN : batch.doubles(column)[row];
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
