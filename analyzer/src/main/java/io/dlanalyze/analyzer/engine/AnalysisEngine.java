package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.AnalysisListener;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.LossHistory;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.Timing;
import io.dlanalyze.analyzer.baselines.KerasBaselines;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The single pass: reads a trace's batches, cuts them at step boundaries, scatters each step's rows
 * into a {@link StepTable} and hands every completed step to the detectors and the baselines; then
 * ranks the findings and assembles the {@link Report}.
 *
 * <p>Implementation notes: per batch, the loop finds each run of rows with one step value and
 * scatters it column by column (index loops over the batch's primitive arrays, no per-row objects).
 * A step is complete when a row of a later step arrives or the trace ends, so batch and row-group
 * boundaries never show, and detectors never see the order of rows inside a step.
 */
public final class AnalysisEngine {
  /** Per phase code: whether the phase is model-level (its rows belong to no layer). */
  private static final boolean[] MODEL_LEVEL = new boolean[Phase.COUNT];

  static {
    for (Phase phase : Phase.values()) {
      MODEL_LEVEL[phase.code()] = phase.isModelLevel();
    }
  }

  /** The columns the engine itself reads. */
  static final Set<Column> KEY_COLUMNS =
      Collections.unmodifiableSet(
          EnumSet.of(
              Column.EPOCH,
              Column.BATCH,
              Column.STEP,
              Column.LAYER_INDEX,
              Column.LAYER_NAME,
              Column.LAYER_TYPE,
              Column.PHASE,
              Column.MEAN));

  private final TraceReader reader;
  private final AnalysisOptions options;
  private final List<DetectorInfo> infos;
  private final List<Detector> detectors = new ArrayList<>();
  private final KerasBaselines baselines;
  private final List<String> warnings = new ArrayList<>();
  private final TraceMetadata metadata;
  private final LayerPositions positions = new LayerPositions();
  private final LayerTable layers;
  private final StepIndex stepIndex = new StepIndex();
  private final LossRecorder lossHistory = new LossRecorder();
  private final Context context = new Context();
  private final StepTable table;
  private final boolean[] phaseSeen = new boolean[Phase.COUNT];
  private final Set<Column> statColumns = EnumSet.noneOf(Column.class);
  private int[] rowSlots = new int[0];
  private long rows;

  private long skippedRows;
  private long duplicateRows;
  private long relabeledRows;
  private long stoppedAtStep = -1;
  private long excludedFindings;
  private final @Nullable AnalysisListener listener;
  private final @Nullable LiveFindings live;
  private boolean listenerStop;
  private boolean begun;
  private ClassCount.@Nullable Inferred inferredClasses;

  private AnalysisEngine(TraceReader reader, AnalysisOptions options, List<DetectorInfo> infos) {
    this(reader, options, infos, null);
  }

  private AnalysisEngine(
      TraceReader reader,
      AnalysisOptions options,
      List<DetectorInfo> infos,
      @Nullable AnalysisListener listener) {
    this.reader = reader;
    this.listener = listener;
    this.options = options;
    this.metadata = reader.metadata();
    // A loss that is not minimized (a GAN player's, a policy-gradient surrogate) leaves the
    // detectors that judge progress nothing to judge: they do not run, and the report says so.
    this.infos =
        metadata.lossMeasuresProgress()
            ? infos
            : infos.stream().filter(info -> !info.judgesProgress()).toList();
    this.layers = new LayerTable(metadata, reader.dictionary(), positions, warnings);
    this.baselines = new KerasBaselines();
    this.live = listener == null ? null : new LiveFindings(listener, this::announced);
    int classifications = 0;
    for (DetectorInfo info : this.infos) {
      Detector detector = info.create();
      detectors.add(detector);
      classifications |= detector.classifications();
      if (live != null) {
        Detector twin = info.create();
        live.add(info.id(), detector, twin);
        classifications |= twin.classifications();
      }
    }
    this.table =
        new StepTable(
            context,
            positions,
            metadata.layers().size(),
            options.get(Thresholds.ZERO_FRACTION),
            options.get(Thresholds.UNCHANGED_TOLERANCE),
            classifications);
  }

  /**
   * Runs the detectors as {@link #run(TraceReader, AnalysisOptions, List)} does, telling {@code
   * listener} about every completed step and every finding the step it becomes conclusive ({@link
   * LiveFindings}, {@code dl-analyze watch}); the listener can stop the reading. The report is the
   * one {@code run} makes of the same rows. No read-ahead: the reader may block waiting for data.
   */
  public static Report run(
      TraceReader reader,
      AnalysisOptions options,
      List<DetectorInfo> detectors,
      AnalysisListener listener) {
    return new AnalysisEngine(reader, options, List.copyOf(detectors), requireNonNull(listener))
        .run();
  }

  /** The columns to load so the given detectors (and the engine and baselines) can run. */
  public static Set<Column> projection(List<DetectorInfo> infos) {
    Set<Column> columns = EnumSet.copyOf(KEY_COLUMNS);
    for (DetectorInfo info : infos) {
      columns.addAll(info.create().columns());
    }
    return columns;
  }

  /**
   * Runs the given detectors over the reader's batches and assembles the report. The reader is read
   * to its end (or to the first fault with {@link AnalysisOptions#firstFault()}) but not closed.
   * With {@link AnalysisOptions#readAhead()} a second thread decodes the next batch while this one
   * is analysed ({@link ReadAheadReader}); the report is the same.
   *
   * @throws TraceFormatException when the trace breaks the contract (steps out of order...)
   */
  public static Report run(
      TraceReader reader, AnalysisOptions options, List<DetectorInfo> detectors) {
    if (!options.readAhead()) {
      return new AnalysisEngine(reader, options, List.copyOf(detectors)).run();
    }
    try (ReadAheadReader readAhead = ReadAheadReader.start(reader)) {
      return new AnalysisEngine(readAhead, options, List.copyOf(detectors)).run();
    }
  }

  private Report run() {
    long start = System.nanoTime();
    TraceBatch batch = reader.batch();
    for (Column column : KEY_COLUMNS) {
      if (!column.isNullable() && !batch.has(column)) {
        throw new IllegalArgumentException(
            format(ROOT, "the reader must load column %s for analysis", column.wireName()));
      }
    }
    Set<Column> inFile = reader.columnsInFile();
    for (Column column : Column.values()) {
      if (StepTable.isStatistic(column) && batch.has(column) && inFile.contains(column)) {
        statColumns.add(column);
      }
    }
    baselines.begin(context);
    boolean inStep = false;
    boolean stop = false;
    long rowIndex = 0;
    while (!stop && reader.next()) {
      int n = batch.size();
      long[] steps = batch.longs(Column.STEP);
      int[] epochs = batch.ints(Column.EPOCH);
      int[] batches = batch.ints(Column.BATCH);
      int r = 0;
      while (r < n) {
        long step = steps[r];
        if (!inStep || step != table.step()) {
          if (inStep) {
            completeStep();
            if (shouldStop()) {
              stop = true;
              stoppedAtStep = table.step();
              break;
            }
            if (step < table.step()) {
              throw new TraceFormatException(
                  ErrorCode.INVALID_VALUE,
                  reader.path(),
                  format(ROOT, "row %d", rowIndex + r),
                  format(
                      ROOT,
                      "step %d comes after step %d: rows must be ordered by step",
                      step,
                      table.step()));
            }
          }
          if (step < 0) {
            throw new TraceFormatException(
                ErrorCode.INVALID_VALUE,
                reader.path(),
                format(ROOT, "row %d", rowIndex + r),
                format(ROOT, "step must not be negative: %d", step));
          }
          table.begin(step, epochs[r], batches[r]);
          stepIndex.add(step, epochs[r], batches[r]);
          inStep = true;
        }
        int end = r + 1;
        while (end < n && steps[end] == step) {
          end++;
        }
        scatter(batch, r, end, rowIndex);
        r = end;
      }
      rowIndex += n;
    }
    if (inStep && !stop) {
      completeStep();
    }
    beginDetectors();
    List<Finding> findings = new ArrayList<>();
    boolean returnsJudgeProgress = returnsWithoutObjective();
    int progressDropped = 0;
    for (int i = 0; i < detectors.size(); i++) {
      List<Finding> found = excluded(infos.get(i).id(), detectors.get(i).finish(context));
      if (returnsJudgeProgress && infos.get(i).judgesProgress()) {
        progressDropped += found.size();
        continue;
      }
      findings.addAll(found);
    }
    if (returnsJudgeProgress) {
      warnings.add(
          format(
              ROOT,
              "the run records episode returns but its metadata declares no objective (%s): its"
                  + " loss was read as a reinforcement-learning loss, whose trend says nothing of"
                  + " progress, and the return as the measure of progress; %d finding(s) of the"
                  + " detectors that judge the loss's trend were dropped",
              TraceMetadata.OBJECTIVE,
              progressDropped));
    }
    List<BaselineResult> baselineResults = baselines.finish(context);
    long elapsed = System.nanoTime() - start;
    collectWarnings();
    return ReportAssembler.assemble(
        options,
        infos,
        findings,
        baselineResults,
        context,
        summaryInput(),
        new Timing(elapsed, rows, stoppedAtStep >= 0));
  }

  /**
   * The findings left after the options' layer exclusions; consequences on excluded layers go too.
   */
  private List<Finding> excluded(String detectorId, List<Finding> raw) {
    if (!options.hasExclusions()) {
      return raw;
    }
    List<Finding> kept = new ArrayList<>(raw.size());
    for (Finding finding : raw) {
      if (finding.layerIndex() >= 0
          && options.isExcluded(detectorId, layerName(finding.layerIndex(), finding.layerName()))) {
        excludedFindings++;
        continue;
      }
      List<io.dlanalyze.analyzer.Consequence> consequences = new ArrayList<>();
      for (io.dlanalyze.analyzer.Consequence consequence : finding.consequences()) {
        if (consequence.layerIndex() < 0
            || !options.isExcluded(detectorId, consequence.layerName())) {
          consequences.add(consequence);
        }
      }
      kept.add(
          consequences.size() == finding.consequences().size()
              ? finding
              : finding.withConsequences(consequences));
    }
    return kept;
  }

  /** The findings kept after exclusions, as {@link #excluded} keeps them, but counted only once. */
  private List<Finding> announced(String detectorId, List<Finding> raw) {
    long counted = excludedFindings; // the report counts exclusions once, from its own pass
    List<Finding> kept = excluded(detectorId, raw);
    excludedFindings = counted;
    return kept;
  }

  private String layerName(int index, @Nullable String given) {
    return given != null ? given : layers.layer(index).name();
  }

  private boolean shouldStop() {
    if (listenerStop) {
      return true;
    }
    if (!options.firstFault()) {
      return false;
    }
    for (Detector detector : detectors) {
      if (detector.fired()) {
        return true;
      }
    }
    return false;
  }

  private void completeStep() {
    table.classify();
    lossHistory.observe(table);
    if (!begun) {
      inferredClasses = ClassCount.infer(metadata, table, context.outputLayer());
      if (inferredClasses != null) {
        warnings.add(
            format(
                ROOT,
                "no %s in the metadata: %d classes, since %s",
                TraceMetadata.NUM_CLASSES,
                inferredClasses.classes(),
                inferredClasses.how()));
      }
      beginDetectors();
    }
    for (Detector detector : detectors) {
      detector.observe(table);
    }
    baselines.observe(table);
    if (listener != null) {
      announce();
    }
  }

  /**
   * Begins the detectors once: after the first step's rows are in (so the context holds the class
   * count that step implies), or at the end of a trace without steps.
   */
  private void beginDetectors() {
    if (begun) {
      return;
    }
    begun = true;
    for (Detector detector : detectors) {
      detector.begin(context);
    }
    if (live != null) {
      for (Detector detector : live.twins()) {
        detector.begin(context);
      }
    }
  }

  /** Tells the listener about the step and the findings that became conclusive in it. */
  private void announce() {
    AnalysisListener watcher = requireNonNull(listener, "announce() runs only with a listener");
    requireNonNull(live, "announce() runs only with a listener").stepCompleted(table, context);
    double loss =
        table.present(-1, Phase.LOSS, Column.MEAN)
            ? table.value(-1, Phase.LOSS, Column.MEAN)
            : Double.NaN;
    if (!watcher.stepCompleted(table.step(), stepIndex.epochOf(table.step()), loss)) {
      listenerStop = true;
    }
  }

  /** Scatters rows [from, to) of one step into the table. */
  private void scatter(TraceBatch batch, int from, int to, long rowBase) {
    int[] layerIndex = batch.ints(Column.LAYER_INDEX);
    int[] phase = batch.ints(Column.PHASE);
    int[] names = batch.has(Column.LAYER_NAME) ? batch.ints(Column.LAYER_NAME) : null;
    int[] types = batch.has(Column.LAYER_TYPE) ? batch.ints(Column.LAYER_TYPE) : null;
    boolean[] typeNulls = types == null ? null : batch.nullMask(Column.LAYER_TYPE);
    if (rowSlots.length < to) {
      rowSlots = new int[Math.max(to, batch.capacity())];
    }
    int[] slots = rowSlots;
    // The presence bits of the columns without nulls in this batch, set once per row by the claim;
    // the columns with nulls set theirs row by row in their own loop.
    int denseBits = 0;
    for (Column column : statColumns) {
      if (batch.nullMask(column) == null) {
        denseBits |= column.bit();
      }
    }
    // Most traces repeat one layout every step: a step whose first rows are the last simple
    // step's claims the same slots without looking each row up.
    if (table.replay(layerIndex, phase, from, to, slots, denseBits)) {
      scatterValues(batch, from, to, false);
      return;
    }
    boolean firstPiece = table.presentSlotCount() == 0;
    boolean skipped = false;
    boolean replayable = firstPiece;
    for (int r = from; r < to; r++) {
      int code = phase[r];
      if (code < 0 || code >= Phase.COUNT) {
        slots[r] = -1;
        skippedRows++;
        skipped = true;
        replayable = false;
        continue;
      }
      int layer = layerIndex[r];
      if (layer < -1 || layer > StepTable.MAX_LAYER_INDEX) {
        throw new TraceFormatException(
            ErrorCode.INVALID_VALUE,
            reader.path(),
            format(ROOT, "row %d", rowBase + r),
            format(
                ROOT,
                "layer_index must be -1 or in [0, %d]: %d",
                StepTable.MAX_LAYER_INDEX,
                layer));
      }
      if (layer >= 0 && MODEL_LEVEL[code]) {
        layer = -1;
        relabeledRows++;
        replayable = false;
      }
      int slot = table.claimSlot(layer, code);
      if (layer >= 0 && names != null && !layers.complete(layer)) {
        int type = types == null || (typeNulls != null && typeNulls[r]) ? -1 : types[r];
        layers.observe(layer, names[r], type);
        replayable = false;
      }
      if (!table.claim(slot, denseBits)) {
        duplicateRows++;
        replayable = false;
      }
      phaseSeen[code] = true;
      slots[r] = slot;
    }
    if (replayable) {
      table.rememberLayout(layerIndex, phase, from, to);
    } else if (firstPiece) {
      table.forgetLayout();
    }
    scatterValues(batch, from, to, skipped);
  }

  /**
   * Copies the statistics of rows [from, to) into the slots the rows claimed ({@code rowSlots}, -1
   * for a skipped row).
   */
  private void scatterValues(TraceBatch batch, int from, int to, boolean skipped) {
    int[] slots = rowSlots;
    int[] bits = table.presentBits();
    for (Column column : statColumns) {
      int bit = column.bit();
      boolean[] nulls = batch.nullMask(column);
      if (column.type() == ColumnType.FLOAT64) {
        double[] source = batch.doubles(column);
        double[] target = table.doubles(column);
        if (nulls == null && !skipped) {
          for (int r = from; r < to; r++) {
            target[slots[r]] = source[r];
          }
        } else {
          for (int r = from; r < to; r++) {
            int slot = slots[r];
            if (slot >= 0 && (nulls == null || !nulls[r])) {
              target[slot] = source[r];
              bits[slot] |= bit;
            }
          }
        }
      } else {
        long[] source = batch.longs(column);
        long[] target = table.longs(column);
        if (nulls == null && !skipped) {
          for (int r = from; r < to; r++) {
            target[slots[r]] = source[r];
          }
        } else {
          for (int r = from; r < to; r++) {
            int slot = slots[r];
            if (slot >= 0 && (nulls == null || !nulls[r])) {
              target[slot] = source[r];
              bits[slot] |= bit;
            }
          }
        }
      }
    }
    rows += to - from;
  }

  /**
   * True when the trace has {@code episode_return} rows and no {@code dltrace.objective}: a
   * reinforcement-learning run written by a recorder that does not declare its objective (format v1
   * has no such key). Its loss is a policy-gradient surrogate or a bootstrapped value error, so the
   * findings of the detectors that judge the loss's trend are dropped, as a declared {@code
   * policy_gradient} or {@code temporal_difference} objective would have kept them from running.
   */
  private boolean returnsWithoutObjective() {
    return phaseSeen[Phase.EPISODE_RETURN.code()]
        && metadata.get(TraceMetadata.OBJECTIVE).filter(v -> !v.isBlank()).isEmpty();
  }

  private void collectWarnings() {
    if (duplicateRows > 0) {
      warnings.add(
          format(
              ROOT,
              "%d rows repeat a (step, layer, phase) already read; the later row was used",
              duplicateRows));
    }
    if (skippedRows > 0) {
      warnings.add(
          format(
              ROOT,
              "%d rows of phases this version does not know (%s) were skipped",
              skippedRows,
              String.join(", ", reader.dictionary().unknownPhaseNames())));
    }
    if (relabeledRows > 0) {
      warnings.add(
          format(
              ROOT,
              "%d rows of model-level phases had a layer_index other than -1; read as model-level",
              relabeledRows));
    }
    if (excludedFindings > 0) {
      warnings.add(format(ROOT, "%d findings on excluded layers were dropped", excludedFindings));
    }
    if (stoppedAtStep >= 0 && listenerStop) {
      warnings.add(format(ROOT, "stopped reading after step %d: the watch ended", stoppedAtStep));
    } else if (stoppedAtStep >= 0) {
      warnings.add(
          format(
              ROOT,
              "stopped reading after step %d at the first fault (--first-fault)",
              stoppedAtStep));
    }
  }

  private ReportAssembler.TraceFacts summaryInput() {
    List<String> phases = new ArrayList<>();
    for (Phase phase : Phase.values()) {
      if (phaseSeen[phase.code()]) {
        phases.add(phase.wireName());
      }
    }
    Set<String> unknown = new LinkedHashSet<>(reader.dictionary().unknownPhaseNames());
    phases.addAll(unknown);
    List<String> allWarnings = new ArrayList<>(reader.warnings());
    allWarnings.addAll(warnings);
    return new ReportAssembler.TraceFacts(
        reader.path().toString(),
        reader.format().displayName(),
        rows,
        stepIndex.steps(),
        stepIndex.firstStep(),
        stepIndex.lastStep(),
        stepIndex.epochs(),
        layers.all(),
        phases,
        reader.metadata(),
        reader.truncated(),
        stoppedAtStep,
        allWarnings);
  }

  /** The live context detectors see. */
  private final class Context implements AnalysisContext {
    @Override
    public AnalysisOptions options() {
      return options;
    }

    @Override
    public TraceMetadata metadata() {
      return metadata;
    }

    @Override
    public OptionalInt numClasses() {
      return inferredClasses != null
          ? OptionalInt.of(inferredClasses.classes())
          : metadata.numClasses();
    }

    @Override
    public int layerCount() {
      return layers.count();
    }

    @Override
    public Layer layer(int index) {
      return layers.layer(index);
    }

    @Override
    public List<Layer> layers() {
      return layers.all();
    }

    @Override
    public int slot(int layer, Phase phase) {
      return table.slot(layer, phase);
    }

    @Override
    public boolean recorded(int layer, Phase phase) {
      return table.everSeen(table.slot(layer, phase));
    }

    @Override
    public int slotLayer(int slot) {
      return slot < Phase.COUNT ? -1 : positions.index(slot / Phase.COUNT - 1);
    }

    @Override
    public Phase slotPhase(int slot) {
      return Phase.ofCode(slot % Phase.COUNT);
    }

    @Override
    public long stepCount() {
      return stepIndex.steps();
    }

    @Override
    public int epochOf(long step) {
      return stepIndex.epochOf(step);
    }

    @Override
    public int batchOf(long step) {
      return stepIndex.batchOf(step);
    }

    @Override
    public LossHistory lossHistory() {
      return lossHistory;
    }
  }
}
