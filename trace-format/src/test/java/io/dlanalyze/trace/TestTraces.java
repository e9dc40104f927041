package io.dlanalyze.trace;

import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test helpers: traces with awkward values, and traces flattened to comparable text rows. */
public final class TestTraces {
  private TestTraces() {}

  /** Layer names that break naive CSV, JSON or HTML handling. */
  public static final List<String> HOSTILE_NAMES =
      List.of(
          "fc1",
          "with,comma",
          "with \"quotes\"",
          "line\nbreak",
          "crlf\r\nbreak",
          "<script>alert(1)</script>",
          "x".repeat(1_000),
          "couche_été_层_🚀",
          " padded ",
          "",
          "nan",
          "-inf",
          "=cmd|' /C calc'!A0");

  /** Metadata with every contract key, a layer list and keys with awkward values. */
  public static TraceMetadata metadata() {
    Map<String, String> values = new LinkedHashMap<>();
    values.put(TraceMetadata.VERSION, "1");
    values.put(TraceMetadata.RUN_ID, "run-42");
    values.put(TraceMetadata.MODEL, "mlp \"hostile\", <b>");
    values.put(TraceMetadata.FRAMEWORK, "pytorch");
    values.put(TraceMetadata.LEARNING_RATE, "0.001");
    values.put(TraceMetadata.TASK, "classification");
    values.put(TraceMetadata.STEPS_PER_EPOCH, "3");
    values.put(TraceMetadata.NUM_CLASSES, "10");
    List<LayerInfo> layers = new ArrayList<>();
    for (int i = 0; i < HOSTILE_NAMES.size(); i++) {
      layers.add(
          new LayerInfo(
              i, HOSTILE_NAMES.get(i), i % 2 == 0 ? "Linear" : null, "relu", 10L * i, i != 3));
    }
    values.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(layers));
    values.put("custom.multiline", "a\nb\tc \"q\" \\ é");
    values.put("custom.empty", "");
    return TraceMetadata.of(values);
  }

  /**
   * A batch of {@code steps} steps over the hostile layer names: nulls in every nullable column,
   * NaN, infinities, -0.0, extreme doubles and longs, an unknown phase.
   */
  public static TraceBatch hostileBatch(TraceDictionary dictionary, int steps) {
    int layers = HOSTILE_NAMES.size();
    int perStep = layers * 2 + 3;
    int rows = steps * perStep;
    TraceBatch batch = TraceBatch.allColumns(dictionary, rows);
    batch.reset(rows);
    double[] specials = {
      Double.NaN,
      Double.POSITIVE_INFINITY,
      Double.NEGATIVE_INFINITY,
      -0.0,
      0.0,
      Double.MIN_VALUE,
      Double.MAX_VALUE,
      -Double.MAX_VALUE,
      0.1,
      1.0 / 3,
      1e-300,
      123456789.123456789,
      Math.PI,
      1e22,
      5e-324
    };
    int row = 0;
    for (int step = 0; step < steps; step++) {
      for (int r = 0; r < perStep; r++) {
        int layer;
        int phase;
        if (r < layers) {
          layer = r;
          phase = Phase.FORWARD.code();
        } else if (r < 2 * layers) {
          layer = r - layers;
          phase = Phase.GRADIENT.code();
        } else if (r == 2 * layers) {
          layer = -1;
          phase = Phase.LOSS.code();
        } else if (r == 2 * layers + 1) {
          layer = -1;
          phase = Phase.LEARNING_RATE.code();
        } else {
          layer = -1;
          phase = dictionary.phaseCode("custom_phase, \"odd\"");
        }
        batch.ints(Column.EPOCH)[row] = step / 3;
        batch.ints(Column.BATCH)[row] = step % 3;
        batch.longs(Column.STEP)[row] = step;
        batch.ints(Column.LAYER_INDEX)[row] = layer;
        batch.ints(Column.LAYER_NAME)[row] =
            dictionary.layerNameId(layer < 0 ? "model" : HOSTILE_NAMES.get(layer));
        if (layer < 0 || layer % 2 == 1) {
          batch.ints(Column.LAYER_TYPE)[row] = -1;
          batch.setNull(Column.LAYER_TYPE, row);
        } else {
          batch.ints(Column.LAYER_TYPE)[row] =
              dictionary.layerTypeId(layer % 4 == 0 ? "Linear" : "Conv2d, \"x\"");
        }
        batch.ints(Column.PHASE)[row] = phase;
        int k = row % specials.length;
        batch.doubles(Column.MEAN)[row] = specials[k];
        setOrNull(batch, Column.STD, row, row % 5 == 1, specials[(k + 1) % specials.length]);
        setOrNull(batch, Column.MIN, row, row % 7 == 2, -row * 0.1);
        setOrNull(batch, Column.MAX, row, row % 3 == 0, row * 1e10);
        setOrNull(batch, Column.L2_NORM, row, row % 4 == 3, Math.sqrt(row));
        setOrNull(batch, Column.ZERO_FRACTION, row, row % 6 == 5, (row % 11) / 10.0);
        setOrNullLong(
            batch, Column.NAN_COUNT, row, row % 8 == 7, row % 13 == 0 ? Long.MAX_VALUE : row);
        setOrNullLong(batch, Column.INF_COUNT, row, row % 9 == 4, 0);
        setOrNullLong(batch, Column.NUMEL, row, row % 10 == 9, 1L << 40);
        row++;
      }
    }
    return batch;
  }

  private static void setOrNull(
      TraceBatch batch, Column column, int row, boolean isNull, double value) {
    batch.doubles(column)[row] = isNull ? 0 : value;
    if (isNull) {
      batch.setNull(column, row);
    }
  }

  private static void setOrNullLong(
      TraceBatch batch, Column column, int row, boolean isNull, long value) {
    batch.longs(column)[row] = isNull ? 0 : value;
    if (isNull) {
      batch.setNull(column, row);
    }
  }

  /** Writes a batch to a trace file of the format {@code path}'s extension names. */
  public static void write(
      Path path, TraceMetadata metadata, WriteOptions options, TraceBatch... batches) {
    TraceWriter writer = TraceWriters.create(path, metadata, options);
    try {
      for (TraceBatch batch : batches) {
        writer.write(batch);
      }
      writer.close();
    } catch (RuntimeException e) {
      writer.abort();
      throw e;
    }
  }

  /**
   * Copies every row of {@code source} to a file of the format {@code path}'s extension names,
   * making its directory first; returns the path.
   */
  public static Path copy(TraceReader source, Path path, WriteOptions options) {
    try {
      Path parent = path.toAbsolutePath().getParent();
      if (parent != null) {
        Files.createDirectories(parent);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try (TraceWriter writer = TraceWriters.create(path, source.metadata(), options)) {
      while (source.next()) {
        writer.write(source.batch());
      }
    }
    return path;
  }

  /** Writes a synthetic trace, in row groups of 1,000 rows; returns the path. */
  public static Path write(Path path, SyntheticTrace trace) {
    return write(path, trace, WriteOptions.defaults().withRowGroupRows(1_000));
  }

  public static Path write(Path path, SyntheticTrace trace, WriteOptions options) {
    try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(1_000))) {
      return copy(source, path, options);
    }
  }

  /** Cuts a file to its first {@code bytes} bytes (a crash, a partial copy). */
  public static void truncate(Path path, long bytes) throws IOException {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE)) {
      channel.truncate(bytes);
    }
  }

  /** Every row of a reader as text, with strings resolved and nulls spelled {@code null}. */
  public static List<String> rows(TraceReader reader) {
    List<String> out = new ArrayList<>();
    TraceBatch batch = reader.batch();
    while (reader.next()) {
      out.addAll(rows(batch));
    }
    return out;
  }

  /** The rows of one batch as text. */
  public static List<String> rows(TraceBatch batch) {
    List<String> out = new ArrayList<>();
    TraceDictionary dictionary = batch.dictionary();
    for (int row = 0; row < batch.size(); row++) {
      StringBuilder line = new StringBuilder();
      for (Column column : Column.values()) {
        if (!batch.has(column)) {
          continue;
        }
        if (line.length() > 0) {
          line.append(" | ");
        }
        line.append(column.wireName()).append('=');
        if (batch.isNull(column, row)) {
          line.append("null");
          continue;
        }
        switch (column.type()) {
          case INT32 -> line.append(batch.ints(column)[row]);
          case INT64 -> line.append(batch.longs(column)[row]);
          case FLOAT64 -> line.append(batch.doubles(column)[row]);
          case STRING -> {
            int id = batch.ints(column)[row];
            String value =
                switch (column) {
                  case LAYER_NAME -> dictionary.layerName(id);
                  case LAYER_TYPE -> dictionary.layerType(id);
                  case PHASE -> dictionary.phaseName(id);
                  default -> throw new IllegalStateException(column.toString());
                };
            line.append('[').append(value).append(']');
          }
        }
      }
      out.add(line.toString());
    }
    return out;
  }

  /** Opens {@code path}, reads every row, closes. */
  public static List<String> readRows(Path path, int batchRows) {
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all().withBatchRows(batchRows))) {
      return rows(reader);
    }
  }
}
