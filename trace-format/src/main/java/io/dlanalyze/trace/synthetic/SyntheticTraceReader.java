package io.dlanalyze.trace.synthetic;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Generates a {@link SyntheticTrace} row by row into reused batches, in the contract's row order:
 * per step, forward and activation layer by layer, loss, accuracy, then backward from the last
 * layer to the first, gradient and weight layer by layer. Batches end wherever the batch size says,
 * also in the middle of a step.
 *
 * <p>Implementation notes: every value is a pure function of (seed, step, layer, phase), except the
 * few faults that freeze a value at their first step, which recompute that step. So batches of any
 * size give the same rows.
 */
public final class SyntheticTraceReader implements TraceReader {
  private static final double FLOAT32_MAX = Float.MAX_VALUE;

  private final SyntheticTrace trace;
  private final TraceMetadata metadata;
  private final TraceDictionary dictionary = new TraceDictionary();
  private final TraceBatch batch;
  private final int batchRows;
  private final int[] layoutPhase;
  private final int[] layoutLayer;
  private final int[] layerNameIds;
  private final int modelNameId;
  private final int linearTypeId;
  private final long explodeInfStep;
  private final Stats stats = new Stats();
  private long step;
  private int rowInStep;
  private long rowsRead;

  SyntheticTraceReader(SyntheticTrace trace, ReadOptions options) {
    this.trace = trace;
    this.metadata = trace.metadata();
    this.batchRows = options.batchRows();
    this.batch = new TraceBatch(dictionary, options.columns(), Math.min(batchRows, 1 << 16));
    int layers = trace.layers();
    this.layerNameIds = new int[layers];
    for (int l = 0; l < layers; l++) {
      layerNameIds[l] = dictionary.layerNameId(trace.layerName(l));
    }
    this.modelNameId = dictionary.layerNameId("model");
    this.linearTypeId = dictionary.layerTypeId("Linear");
    int rows = trace.rowsPerStep();
    this.layoutPhase = new int[rows];
    this.layoutLayer = new int[rows];
    int r = 0;
    if (trace.optionalPhases()) {
      r = place(r, Phase.INPUT, -1);
      r = place(r, Phase.TARGET, -1);
    }
    for (int l = 0; l < layers; l++) {
      r = place(r, Phase.FORWARD, l);
      r = place(r, Phase.ACTIVATION, l);
    }
    r = place(r, Phase.LOSS, -1);
    r = place(r, Phase.ACCURACY, -1);
    if (trace.optionalPhases()) {
      r = place(r, Phase.LEARNING_RATE, -1);
    }
    for (int l = layers - 1; l >= 0; l--) {
      r = place(r, Phase.BACKWARD, l);
    }
    for (int l = 0; l < layers; l++) {
      r = place(r, Phase.GRADIENT, l);
    }
    for (int l = 0; l < layers; l++) {
      r = place(r, Phase.WEIGHT, l);
    }
    long infStep = Long.MAX_VALUE;
    for (Fault fault : trace.faults()) {
      if (fault.kind() == Fault.Kind.EXPLODING_GRADIENT && fault.rate() > 1) {
        long grow = (long) Math.ceil(Math.log(FLOAT32_MAX / 10) / Math.log(fault.rate()));
        infStep = Math.min(infStep, fault.step() + grow);
      }
    }
    this.explodeInfStep = infStep;
  }

  private int place(int r, Phase phase, int layer) {
    layoutPhase[r] = phase.code();
    layoutLayer[r] = layer;
    return r + 1;
  }

  @Override
  public Path path() {
    return Path.of("synthetic:" + trace.seed());
  }

  @Override
  public TraceFormat format() {
    return TraceFormat.SYNTHETIC;
  }

  @Override
  public TraceMetadata metadata() {
    return metadata;
  }

  @Override
  public Set<Column> columnsInFile() {
    return EnumSet.allOf(Column.class);
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
    long remaining = trace.totalRows() - rowsRead;
    if (remaining <= 0) {
      batch.reset(0);
      return false;
    }
    int n = (int) Math.min(batchRows, remaining);
    batch.reset(n);
    int[] epoch = batch.has(Column.EPOCH) ? batch.ints(Column.EPOCH) : null;
    int[] batchIndex = batch.has(Column.BATCH) ? batch.ints(Column.BATCH) : null;
    long[] steps = batch.has(Column.STEP) ? batch.longs(Column.STEP) : null;
    int[] layerIndex = batch.has(Column.LAYER_INDEX) ? batch.ints(Column.LAYER_INDEX) : null;
    int[] layerName = batch.has(Column.LAYER_NAME) ? batch.ints(Column.LAYER_NAME) : null;
    int[] layerType = batch.has(Column.LAYER_TYPE) ? batch.ints(Column.LAYER_TYPE) : null;
    int[] phases = batch.has(Column.PHASE) ? batch.ints(Column.PHASE) : null;
    double[] mean = batch.has(Column.MEAN) ? batch.doubles(Column.MEAN) : null;
    double[] std = batch.has(Column.STD) ? batch.doubles(Column.STD) : null;
    double[] min = batch.has(Column.MIN) ? batch.doubles(Column.MIN) : null;
    double[] max = batch.has(Column.MAX) ? batch.doubles(Column.MAX) : null;
    double[] l2 = batch.has(Column.L2_NORM) ? batch.doubles(Column.L2_NORM) : null;
    double[] zero = batch.has(Column.ZERO_FRACTION) ? batch.doubles(Column.ZERO_FRACTION) : null;
    long[] nan = batch.has(Column.NAN_COUNT) ? batch.longs(Column.NAN_COUNT) : null;
    long[] inf = batch.has(Column.INF_COUNT) ? batch.longs(Column.INF_COUNT) : null;
    long[] numel = batch.has(Column.NUMEL) ? batch.longs(Column.NUMEL) : null;
    int spe = trace.stepsPerEpoch();
    for (int i = 0; i < n; i++) {
      int phase = layoutPhase[rowInStep];
      int layer = layoutLayer[rowInStep];
      compute(step, layer, Phase.ofCode(phase), stats);
      if (epoch != null) {
        epoch[i] = (int) (step / spe);
      }
      if (batchIndex != null) {
        batchIndex[i] = (int) (step % spe);
      }
      if (steps != null) {
        steps[i] = step;
      }
      if (layerIndex != null) {
        layerIndex[i] = layer;
      }
      if (layerName != null) {
        layerName[i] = layer < 0 ? modelNameId : layerNameIds[layer];
      }
      if (layerType != null) {
        if (layer < 0) {
          batch.setNull(Column.LAYER_TYPE, i);
          layerType[i] = -1;
        } else {
          layerType[i] = linearTypeId;
        }
      }
      if (phases != null) {
        phases[i] = phase;
      }
      if (mean != null) {
        mean[i] = stats.mean;
      }
      if (std != null) {
        std[i] = stats.std;
      }
      if (min != null) {
        min[i] = stats.min;
      }
      if (max != null) {
        max[i] = stats.max;
      }
      if (l2 != null) {
        l2[i] = stats.l2;
      }
      if (zero != null) {
        zero[i] = stats.zeroFraction;
      }
      if (nan != null) {
        nan[i] = stats.nanCount;
      }
      if (inf != null) {
        inf[i] = stats.infCount;
      }
      if (numel != null) {
        numel[i] = stats.numel;
      }
      if (++rowInStep == layoutPhase.length) {
        rowInStep = 0;
        step++;
      }
    }
    rowsRead += n;
    return true;
  }

  @Override
  public long rowsRead() {
    return rowsRead;
  }

  @Override
  public long totalRows() {
    return trace.totalRows();
  }

  @Override
  public boolean truncated() {
    return false;
  }

  @Override
  public List<String> warnings() {
    return List.of();
  }

  @Override
  public void close() {}

  /** The statistics of one row. */
  static final class Stats {
    double mean;
    double std;
    double min;
    double max;
    double l2;
    double zeroFraction;
    long nanCount;
    long infCount;
    long numel;

    void set(double mean, double std, double min, double max, double zeroFraction, long numel) {
      this.mean = mean;
      this.std = std;
      this.min = min;
      this.max = max;
      this.zeroFraction = zeroFraction;
      this.numel = numel;
      this.l2 = Math.sqrt(numel * (std * std + mean * mean));
      this.nanCount = 0;
      this.infCount = 0;
    }

    void fill(double value, long numel) {
      set(value, Double.isNaN(value) ? value : Double.NaN, value, value, 0, numel);
      this.l2 = value;
      this.nanCount = Double.isNaN(value) ? numel : 0;
      this.infCount = Double.isInfinite(value) ? numel : 0;
      if (Double.isInfinite(value)) {
        this.std = Double.NaN;
      }
    }

    void zeros(long numel) {
      set(0, 0, 0, 0, 1, numel);
    }
  }

  /** Computes the statistics of one (step, layer, phase) into {@code out}. */
  void compute(long step, int layer, Phase phase, Stats out) {
    healthy(step, layer, phase, out);
    for (Fault fault : trace.faults()) {
      if (step >= fault.step()) {
        applyFault(fault, step, layer, phase, out);
      }
    }
    if (step >= explodeInfStep) {
      applyOverflow(step, phase, out);
    }
  }

  private void applyFault(Fault fault, long step, int layer, Phase phase, Stats out) {
    int layers = trace.layers();
    switch (fault.kind()) {
      case NAN, INF -> {
        boolean born = step == fault.step();
        boolean hit =
            switch (phase) {
              case FORWARD, ACTIVATION -> !born || layer >= fault.layer();
              case LOSS, BACKWARD, GRADIENT, WEIGHT -> true;
              case ACCURACY, INPUT, TARGET, LEARNING_RATE, VAL_LOSS, VAL_ACCURACY, EPISODE_RETURN ->
                  false;
            };
        if (phase == Phase.ACCURACY) {
          out.set(chance(step), 0.3, 0, 1, 0, 1);
          out.l2 = out.mean;
        }
        if (hit) {
          boolean infHere =
              fault.kind() == Fault.Kind.INF
                  && born
                  && layer == fault.layer()
                  && (phase == Phase.FORWARD || phase == Phase.ACTIVATION);
          out.fill(infHere ? Double.POSITIVE_INFINITY : Double.NaN, out.numel);
        }
      }
      case DEAD_LAYER -> {
        if (layer != fault.layer()) {
          return;
        }
        switch (phase) {
          case FORWARD -> {
            double std = out.std;
            double max = -0.01 * (1.5 + noise(step, layer, phase, 11));
            out.set(max - 2 * std, std, max - 6 * std, max, 0, out.numel);
          }
          case ACTIVATION, BACKWARD, GRADIENT -> out.zeros(out.numel);
          case WEIGHT -> healthy(fault.step(), layer, phase, out);
          case LOSS,
              ACCURACY,
              INPUT,
              TARGET,
              LEARNING_RATE,
              VAL_LOSS,
              VAL_ACCURACY,
              EPISODE_RETURN -> {}
        }
      }
      case FROZEN_WEIGHTS -> {
        if (layer == fault.layer() && phase == Phase.WEIGHT) {
          healthy(fault.step(), layer, phase, out);
        }
      }
      case LOSS_PLATEAU -> plateau(fault.step(), step, phase, out);
      case EXPLODING_GRADIENT -> {
        double factor = Math.pow(fault.rate(), step - fault.step());
        switch (phase) {
          case BACKWARD, GRADIENT -> scale(out, factor * (1 + 0.5 * (layers - 1 - layer)));
          case WEIGHT -> scale(out, 1 + Math.log1p(factor) / 50);
          case LOSS -> {
            double base = healthyLoss(fault.step());
            double loss =
                base * (1 + Math.log1p(factor) / 5) * (1 + 0.01 * noise(step, -1, phase, 1));
            out.set(loss, 0, loss, loss, 0, 1);
            out.l2 = loss;
          }
          case ACCURACY -> {
            out.set(chance(step), 0.3, 0, 1, 0, 1);
            out.l2 = out.mean;
          }
          case FORWARD, ACTIVATION -> scale(out, 1 + Math.log1p(factor) / 20);
          case INPUT, TARGET, LEARNING_RATE, VAL_LOSS, VAL_ACCURACY, EPISODE_RETURN -> {}
        }
      }
      case VANISHING_GRADIENT -> {
        switch (phase) {
          case BACKWARD, GRADIENT -> scale(out, Math.pow(fault.rate(), layers - 1 - layer));
          case LOSS, ACCURACY -> plateau(fault.step(), step, phase, out);
          case FORWARD,
              ACTIVATION,
              WEIGHT,
              INPUT,
              TARGET,
              LEARNING_RATE,
              VAL_LOSS,
              VAL_ACCURACY,
              EPISODE_RETURN -> {}
        }
      }
    }
  }

  private void plateau(long from, long step, Phase phase, Stats out) {
    if (phase == Phase.LOSS) {
      double loss = healthyLoss(from) * (1 + 0.004 * noise(step, -1, phase, 2));
      out.set(loss, 0, loss, loss, 0, 1);
      out.l2 = loss;
    } else if (phase == Phase.ACCURACY) {
      double acc = clamp01(healthyAccuracy(from) + 0.004 * noise(step, -1, phase, 2));
      out.set(acc, 0, acc, acc, 0, 1);
      out.l2 = acc;
    }
  }

  private void applyOverflow(long step, Phase phase, Stats out) {
    boolean first = step == explodeInfStep;
    switch (phase) {
      case BACKWARD, GRADIENT, WEIGHT ->
          out.fill(first ? Double.POSITIVE_INFINITY : Double.NaN, out.numel);
      case FORWARD, ACTIVATION, LOSS -> {
        if (!first) {
          out.fill(Double.NaN, out.numel);
        }
      }
      case ACCURACY, INPUT, TARGET, LEARNING_RATE, VAL_LOSS, VAL_ACCURACY, EPISODE_RETURN -> {}
    }
  }

  private static void scale(Stats out, double factor) {
    double mean = out.mean * factor;
    double std = out.std * factor;
    out.set(mean, std, out.min * factor, out.max * factor, out.zeroFraction, out.numel);
    if (!Double.isFinite(out.l2) && Double.isFinite(mean)) {
      out.l2 = Double.MAX_VALUE;
    }
  }

  private void healthy(long step, int layer, Phase phase, Stats out) {
    int layers = trace.layers();
    int k = trace.numClasses();
    long b = trace.batchSize();
    double t = trace.steps() <= 1 ? 0 : (double) step / (trace.steps() - 1);
    double n1 = noise(step, layer, phase, 1);
    double n2 = noise(step, layer, phase, 2);
    double n3 = noise(step, layer, phase, 3);
    switch (phase) {
      case FORWARD -> {
        double mean = 0.02 * (1.3 + Math.sin(0.7 * layer)) * (1 + 0.2 * t) + 0.002 * n1;
        double std = (1.0 / (1 + 0.1 * layer)) * (1 + 0.1 * t) * (1 + 0.02 * n2);
        out.set(
            mean,
            std,
            mean - 3.2 * std * (1 + 0.01 * n3),
            mean + 3.2 * std * (1 + 0.01 * n1),
            0,
            b * trace.width(layer));
      }
      case ACTIVATION -> {
        long numel = b * trace.width(layer);
        if (layer == layers - 1) {
          double std = 0.05 + 0.2 * (1 - Math.exp(-4 * t)) + 0.005 * n1;
          double max = Math.min(0.999, 0.3 + 0.6 * (1 - Math.exp(-4 * t)) + 0.01 * n2);
          out.set(1.0 / k, std, 1e-4 * (1.5 + n3), max, 0, numel);
        } else {
          double stdForward = (1.0 / (1 + 0.1 * layer)) * (1 + 0.1 * t);
          double mean = 0.4 * stdForward * (1 + 0.02 * n1);
          double std = 0.58 * stdForward * (1 + 0.02 * n2);
          out.set(mean, std, 0, 3.3 * stdForward * (1 + 0.01 * n3), 0.5 + 0.02 * n3, numel);
        }
      }
      case LOSS -> {
        double loss = healthyLoss(step);
        out.set(loss, 0, loss, loss, 0, 1);
        out.l2 = loss;
      }
      case ACCURACY -> {
        double acc = healthyAccuracy(step);
        out.set(acc, 0, acc, acc, 0, 1);
        out.l2 = acc;
      }
      case BACKWARD -> {
        double scale = 1e-3 * (1 + 0.2 * layer) * Math.exp(-t);
        double std = scale * (1 + 0.05 * n2);
        double zero = layer == layers - 1 ? 0 : 0.5 + 0.02 * n3;
        out.set(
            scale * 0.05 * (1.2 + n1), std, -3.5 * std, 3.5 * std, zero, b * trace.width(layer));
      }
      case GRADIENT -> {
        double scale = 0.01 * (1 + 0.1 * layer) * Math.exp(-1.5 * t);
        double std = scale * (1 + 0.05 * n2);
        out.set(
            scale * 0.02 * (1.2 + n1),
            std,
            -4 * std * (1 + 0.01 * n3),
            4 * std,
            0,
            (long) trace.fanIn(layer) * trace.width(layer));
      }
      case WEIGHT -> {
        double std = Math.sqrt(2.0 / trace.fanIn(layer)) * (1 + 0.05 * t) + 1e-6 * n2;
        double mean = 0.001 * (layer + 1) * (1 + 0.5 * t) + 1e-6 * n1;
        out.set(
            mean,
            std,
            mean - 4 * std * (1 + 0.001 * n3),
            mean + 4 * std,
            0,
            (long) trace.fanIn(layer) * trace.width(layer));
      }
      case LEARNING_RATE -> {
        double lr = trace.learningRate();
        out.set(lr, 0, lr, lr, 0, 1);
        out.l2 = lr;
      }
      case INPUT -> {
        double std = 1 + 0.01 * n2;
        out.set(0.01 * n1, std, -4 * std, 4 * std * (1 + 0.01 * n3), 0, b * trace.fanIn(0));
      }
      case TARGET -> {
        double mean = (k - 1) / 2.0 + 0.3 * n1;
        out.set(mean, k / 3.5, 0, k - 1, 1.0 / k * (1 + 0.2 * n2), b);
      }
      case VAL_LOSS, VAL_ACCURACY, EPISODE_RETURN -> out.set(0, 0, 0, 0, 0, 1);
    }
  }

  private double healthyLoss(long step) {
    double t = trace.steps() <= 1 ? 0 : (double) step / (trace.steps() - 1);
    double loss = 0.1 + 2.2 * Math.exp(-3 * t);
    return loss * (1 + 0.03 * noise(step, -1, Phase.LOSS, 0));
  }

  private double healthyAccuracy(long step) {
    double t = trace.steps() <= 1 ? 0 : (double) step / (trace.steps() - 1);
    double k = trace.numClasses();
    double acc = 1 / k + (0.95 - 1 / k) * (1 - Math.exp(-4 * t));
    return clamp01(acc + 0.01 * noise(step, -1, Phase.ACCURACY, 0));
  }

  private double chance(long step) {
    return clamp01(1.0 / trace.numClasses() + 0.02 * noise(step, -1, Phase.ACCURACY, 7));
  }

  private static double clamp01(double value) {
    return Math.max(0, Math.min(1, value));
  }

  /** Deterministic noise in [-1, 1) from (seed, step, layer, phase, salt): SplitMix64. */
  private double noise(long step, int layer, Phase phase, int salt) {
    long z = trace.seed() * 0x9E3779B97F4A7C15L;
    z ^= step * 0xBF58476D1CE4E5B9L;
    z ^= (layer + 2L) * 0x94D049BB133111EBL;
    z ^= (phase.ordinal() * 31L + salt) * 0xD6E8FEB86659FD93L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z ^= z >>> 31;
    return ((z >>> 11) * 0x1.0p-53) * 2 - 1;
  }
}
