package io.dlanalyze.trace.tensorboard;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.tensorboard.EventCollector.FileInfo;
import io.dlanalyze.trace.tensorboard.RunBuilder.Granularity;
import io.dlanalyze.trace.tensorboard.TagMapping.Target;
import io.dlanalyze.trace.tensorboard.TensorBoardRun.EventFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Reads a TensorBoard run (a directory of event files, Keras' {@code train/} and {@code
 * validation/} layout, or one event file) as a trace: the scalars become model-level rows (loss,
 * accuracy, learning_rate, val_loss, val_accuracy, episode_return) and the weight and gradient
 * histograms per-layer rows with mean, std, min, max, l2_norm and numel derived from their moments;
 * see {@link TagMapping} for which tag becomes what and {@link RunBuilder} for how.
 *
 * <p>The run is read whole at open (TensorBoard's files are not in step order across files), into
 * primitive arrays of about 30 bytes per scalar and 60 per histogram; images, audio, text and
 * graphs are skipped as they are read. Then batches are handed out in trace order. zero_fraction,
 * nan_count and inf_count are absent ({@link #columnsInFile()}): histograms do not carry them.
 *
 * <p>A file that ends inside a record (a crashed run) gives every record before the cut and a
 * warning; a damaged record elsewhere is a CORRUPT error naming the file and the record's offset.
 */
public final class TensorBoardTraceReader implements TraceReader {
  /** Metadata key: {@code tensorboard}, the source the trace was read from. */
  public static final String SOURCE = TraceMetadata.SOURCE;

  /** Metadata key: {@code step} or {@code epoch}, what a step of the trace is. */
  public static final String GRANULARITY = TraceMetadata.SOURCE_GRANULARITY;

  /** Metadata key: the event files read, relative to the run, comma-separated. */
  public static final String FILES = "dltrace.source.files";

  /**
   * The analyzer's detector ids the warnings name when the data cannot serve them (a test of the
   * command line checks that each is registered).
   */
  public static final List<String> DETECTORS_NAMED =
      List.of(
          "dying-relu",
          "saturation",
          "input-range",
          "target-range",
          "dead-or-zero",
          "unchanged-values",
          "not-learning",
          "vanishing-gradient",
          "exploding-gradient",
          "effective-learning-rate",
          "weight-variance",
          "oscillating-loss",
          "slow-convergence",
          "not-converging");

  private static final Set<Column> ABSENT =
      EnumSet.of(Column.ZERO_FRACTION, Column.NAN_COUNT, Column.INF_COUNT);

  private final Path path;
  private final TraceDictionary dictionary = new TraceDictionary();
  private final TraceMetadata metadata;
  private final RunTable table;
  private final List<String> warnings;
  private final boolean truncated;
  private final TraceBatch batch;
  private final int batchRows;
  private int offset;
  private boolean closed;

  private TensorBoardTraceReader(Path path, ReadOptions options, TagMapping mapping) {
    this.path = path;
    this.batchRows = options.batchRows();
    List<EventFile> files = TensorBoardRun.eventFiles(path);
    if (files.isEmpty()) {
      throw new TraceFormatException(
          ErrorCode.EMPTY, path, null, "the directory holds no TensorBoard event files");
    }
    EventCollector collector = new EventCollector(mapping);
    List<String> truncations = new ArrayList<>();
    boolean cut = false;
    long emptyFiles = 0;
    for (EventFile file : files) {
      if (isEmptyFile(file.path())) {
        emptyFiles++;
        truncations.add(String.format(ROOT, "%s: the event file is empty (0 bytes)", file.name()));
        continue;
      }
      collector.read(file);
      FileInfo info = collector.files().get(collector.files().size() - 1);
      if (info.truncation != null) {
        cut = true;
        truncations.add(
            String.format(
                ROOT,
                "truncated: %s: %s (the run did not finish writing it); recovered %d records, the"
                    + " rest of the file is lost",
                file.name(),
                info.truncation,
                info.records));
      }
    }
    if (collector.records() == 0) {
      if (cut) {
        throw new TraceFormatException(
            ErrorCode.TRUNCATED,
            path,
            null,
            "truncated before the end of the first record: the event files hold no complete"
                + " record");
      }
      if (emptyFiles == files.size()) {
        throw new TraceFormatException(
            ErrorCode.EMPTY,
            path,
            null,
            emptyFiles == 1
                ? "file is empty (0 bytes)"
                : "every event file of the run is empty (0 bytes)");
      }
    }
    KerasModel keras =
        collector.kerasConfig() == null
            ? KerasModel.empty()
            : KerasModel.parse(collector.kerasConfig());
    RunNotes notes = new RunNotes();
    RunBuilder builder = new RunBuilder(collector, keras, dictionary, notes);
    this.table = builder.build();
    long[] counts = RunBuilder.stepCounts(table);
    int estimated = 0;
    for (int layer = 0; layer < builder.layerNames().size(); layer++) {
      estimated += builder.estimatedStreams(layer);
    }
    this.warnings =
        notes.warnings(
            collector,
            truncations,
            builder.granularity(),
            RunNotes.phases(table),
            counts[0],
            counts[1],
            estimated);
    this.truncated = cut;
    this.metadata = metadata(builder, keras, mapping, files);
    this.batch = new TraceBatch(dictionary, options.columns(), Math.min(batchRows, 1 << 16));
  }

  /**
   * Opens a run directory or an event file with the tag mapping of the run ({@link
   * TagMapping#forRun}).
   *
   * @throws TraceFormatException when a file cannot be read or is damaged, or the tags file is
   *     invalid
   */
  public static TensorBoardTraceReader open(Path path, ReadOptions options) {
    return new TensorBoardTraceReader(path, options, TagMapping.forRun(path));
  }

  /** Opens a run with the given tag mapping. */
  public static TensorBoardTraceReader open(Path path, ReadOptions options, TagMapping mapping) {
    return new TensorBoardTraceReader(path, options, mapping);
  }

  private static boolean isEmptyFile(Path file) {
    try {
      return Files.size(file) == 0;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  private TraceMetadata metadata(
      RunBuilder builder, KerasModel keras, TagMapping mapping, List<EventFile> files) {
    Map<String, String> values = new LinkedHashMap<>();
    values.put(TraceMetadata.VERSION, TraceMetadata.CURRENT_VERSION);
    Path name = path.toAbsolutePath().normalize().getFileName();
    if (name != null) {
      values.put(TraceMetadata.RUN_ID, name.toString());
    }
    putIf(values, TraceMetadata.MODEL, keras.name());
    if (!keras.layers().isEmpty()) {
      values.put(TraceMetadata.FRAMEWORK, "keras");
    }
    putIf(values, TraceMetadata.OPTIMIZER, keras.optimizer());
    double rate = keras.learningRate();
    Series lr = builder.chosen(Target.LEARNING_RATE);
    if (Double.isNaN(rate) && lr != null) {
      for (int p = 0; p < lr.size && Double.isNaN(rate); p++) {
        if (lr.placed[p] >= 0) {
          rate = lr.value(0, p);
        }
      }
    }
    if (!Double.isNaN(rate)) {
      values.put(TraceMetadata.LEARNING_RATE, Double.toString(rate));
    }
    putIf(values, TraceMetadata.TASK, keras.task());
    putIf(values, TraceMetadata.LOSS, keras.loss());
    long stepsPerEpoch = builder.stepsPerEpoch(table);
    if (stepsPerEpoch > 0) {
      values.put(TraceMetadata.STEPS_PER_EPOCH, Long.toString(stepsPerEpoch));
    }
    if (keras.classes() > 0) {
      values.put(TraceMetadata.NUM_CLASSES, Integer.toString(keras.classes()));
    }
    List<LayerInfo> layers = new ArrayList<>();
    List<String> names = builder.layerNames();
    for (int i = 0; i < names.size(); i++) {
      int k = keras.indexOf(names.get(i));
      KerasModel.Layer layer = k < 0 ? null : keras.layers().get(k);
      layers.add(
          new LayerInfo(
              i,
              names.get(i),
              layer == null ? null : layer.type(),
              layer == null ? null : layer.activation(),
              -1,
              layer == null || layer.trainable()));
    }
    if (!layers.isEmpty()) {
      values.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(layers));
    }
    values.put(SOURCE, "tensorboard");
    values.put(GRANULARITY, builder.granularity() == Granularity.EPOCH ? "epoch" : "step");
    List<String> fileNames = new ArrayList<>();
    for (EventFile file : files) {
      fileNames.add(file.name());
    }
    values.put(FILES, String.join(",", fileNames));
    mapping.source().ifPresent(source -> values.put("dltrace.source.tags", source.toString()));
    return TraceMetadata.of(values);
  }

  private static void putIf(Map<String, String> values, String key, @Nullable String value) {
    if (value != null && !value.isEmpty()) {
      values.put(key, value);
    }
  }

  @Override
  public Path path() {
    return path;
  }

  @Override
  public TraceFormat format() {
    return TraceFormat.TENSORBOARD;
  }

  @Override
  public TraceMetadata metadata() {
    return metadata;
  }

  @Override
  public Set<Column> columnsInFile() {
    Set<Column> columns = EnumSet.allOf(Column.class);
    columns.removeAll(ABSENT);
    return columns;
  }

  @Override
  public TraceDictionary dictionary() {
    return dictionary;
  }

  @Override
  public TraceBatch batch() {
    return batch;
  }

  @Override
  public boolean next() {
    if (closed) {
      throw new IllegalStateException("reader is closed");
    }
    int n = Math.min(batchRows, table.size - offset);
    if (n <= 0) {
      batch.reset(0);
      return false;
    }
    batch.reset(n);
    for (Column column : batch.columns()) {
      copy(column, n);
    }
    offset += n;
    return true;
  }

  private void copy(Column column, int n) {
    int from = offset;
    switch (column) {
      case EPOCH -> System.arraycopy(table.epoch, from, batch.ints(column), 0, n);
      case BATCH -> System.arraycopy(table.batch, from, batch.ints(column), 0, n);
      case STEP -> System.arraycopy(table.step, from, batch.longs(column), 0, n);
      case LAYER_INDEX -> System.arraycopy(table.layerIndex, from, batch.ints(column), 0, n);
      case LAYER_NAME -> System.arraycopy(table.layerName, from, batch.ints(column), 0, n);
      case LAYER_TYPE -> {
        int[] target = batch.ints(column);
        System.arraycopy(table.layerType, from, target, 0, n);
        for (int i = 0; i < n; i++) {
          if (target[i] < 0) {
            batch.setNull(column, i);
          }
        }
      }
      case PHASE -> System.arraycopy(table.phase, from, batch.ints(column), 0, n);
      case MEAN -> System.arraycopy(table.mean, from, batch.doubles(column), 0, n);
      case STD -> stats(column, table.std, n);
      case MIN -> stats(column, table.min, n);
      case MAX -> stats(column, table.max, n);
      case L2_NORM -> stats(column, table.l2, n);
      case NUMEL -> {
        long[] target = batch.longs(column);
        System.arraycopy(table.numel, from, target, 0, n);
        for (int i = 0; i < n; i++) {
          if (!table.hasNumel[from + i]) {
            batch.setNull(column, i);
          }
        }
      }
      case ZERO_FRACTION -> allNull(column, n);
      case NAN_COUNT, INF_COUNT -> allNull(column, n);
    }
  }

  private void stats(Column column, double[] values, int n) {
    double[] target = batch.doubles(column);
    System.arraycopy(values, offset, target, 0, n);
    for (int i = 0; i < n; i++) {
      if (!table.hasStats[offset + i]) {
        batch.setNull(column, i);
      }
    }
  }

  private void allNull(Column column, int n) {
    boolean[] mask = batch.nullMaskForWrite(column);
    java.util.Arrays.fill(mask, 0, n, true);
  }

  @Override
  public long rowsRead() {
    return offset;
  }

  @Override
  public long totalRows() {
    return table.size;
  }

  @Override
  public boolean truncated() {
    return truncated;
  }

  @Override
  public List<String> warnings() {
    return warnings;
  }

  @Override
  public void close() {
    closed = true;
  }
}
