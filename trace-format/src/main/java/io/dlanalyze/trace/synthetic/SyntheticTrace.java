package io.dlanalyze.trace.synthetic;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.validate.TraceValidator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Settings of a deterministic synthetic trace: an MLP of {@code layers} Linear layers (ReLU hidden
 * activations, a softmax output), trained for {@code steps} steps, with optional injected faults.
 * The same settings always give the same rows, bit for bit.
 *
 * <p>Healthy values are smooth trends plus deterministic noise: never exactly 0, never two
 * consecutive steps exactly equal, except where a statistic is constant by construction (the
 * softmax output's mean is exactly 1/K; the learning rate is constant).
 *
 * <pre>{@code
 * TraceReader reader = SyntheticTrace.builder().layers(6).steps(2_000).seed(7)
 *     .fault(Fault.nan(3, 1_234)).build().open(ReadOptions.all());
 * }</pre>
 */
public final class SyntheticTrace {
  /**
   * The most layers a synthetic model may have: layer indices stay within the validator's limit.
   */
  public static final int MAX_LAYERS = TraceValidator.MAX_LAYER_INDEX + 1;

  private final int layers;
  private final long steps;
  private final int stepsPerEpoch;
  private final long seed;
  private final int numClasses;
  private final int batchSize;
  private final double learningRate;
  private final boolean optionalPhases;
  private final List<Fault> faults;

  private SyntheticTrace(Builder builder) {
    this.layers = builder.layers;
    this.steps = builder.steps;
    this.stepsPerEpoch = builder.stepsPerEpoch;
    this.seed = builder.seed;
    this.numClasses = builder.numClasses;
    this.batchSize = builder.batchSize;
    this.learningRate = builder.learningRate;
    this.optionalPhases = builder.optionalPhases;
    this.faults = List.copyOf(builder.faults);
    if (steps > Long.MAX_VALUE / rowsPerStep()) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "steps x rows per step (%d) does not fit in a long: %d steps",
              rowsPerStep(),
              steps));
    }
    for (Fault fault : faults) {
      if (fault.layer() >= layers) {
        throw new IllegalArgumentException(
            format(
                ROOT,
                "fault layer %d is out of range: the model has %d layers",
                fault.layer(),
                layers));
      }
      if (fault.step() >= steps) {
        throw new IllegalArgumentException(
            format(
                ROOT,
                "fault step %d is beyond the last step, %d: the fault would never show",
                fault.step(),
                steps - 1));
      }
    }
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A reader that generates the rows on the fly, batch by batch. */
  public SyntheticTraceReader open(ReadOptions options) {
    return new SyntheticTraceReader(this, options);
  }

  public int layers() {
    return layers;
  }

  public long steps() {
    return steps;
  }

  public int stepsPerEpoch() {
    return stepsPerEpoch;
  }

  public long seed() {
    return seed;
  }

  public int numClasses() {
    return numClasses;
  }

  public int batchSize() {
    return batchSize;
  }

  public double learningRate() {
    return learningRate;
  }

  public boolean optionalPhases() {
    return optionalPhases;
  }

  public List<Fault> faults() {
    return faults;
  }

  /** Rows per step: forward and activation per layer, loss, accuracy, then 3 per layer (+3). */
  public int rowsPerStep() {
    return 5 * layers + 2 + (optionalPhases ? 3 : 0);
  }

  public long totalRows() {
    return steps * rowsPerStep();
  }

  /** Units of layer {@code l}: a funnel from 256 down to the number of classes. */
  public int width(int layer) {
    if (layer == layers - 1) {
      return numClasses;
    }
    return Math.max(numClasses * 2, 256 >> Math.min(layer, 4));
  }

  /** Inputs of layer {@code l}. */
  public int fanIn(int layer) {
    return layer == 0 ? 64 : width(layer - 1);
  }

  /** The layer names: {@code fc0, fc1, ...}. */
  public String layerName(int layer) {
    return "fc" + layer;
  }

  public TraceMetadata metadata() {
    List<LayerInfo> infos = new ArrayList<>();
    for (int l = 0; l < layers; l++) {
      infos.add(
          new LayerInfo(
              l,
              layerName(l),
              "Linear",
              l == layers - 1 ? "softmax" : "relu",
              (long) fanIn(l) * width(l) + width(l),
              true));
    }
    Map<String, String> values = new LinkedHashMap<>();
    values.put(TraceMetadata.VERSION, TraceMetadata.CURRENT_VERSION);
    values.put(TraceMetadata.RUN_ID, "synthetic-" + seed);
    values.put(TraceMetadata.MODEL, format(ROOT, "mlp-%d-synthetic", layers));
    values.put(TraceMetadata.FRAMEWORK, "synthetic");
    values.put(TraceMetadata.OPTIMIZER, "sgd");
    values.put(TraceMetadata.LEARNING_RATE, Double.toString(learningRate));
    values.put(TraceMetadata.BATCH_SIZE, Integer.toString(batchSize));
    values.put(TraceMetadata.TASK, "classification");
    values.put(TraceMetadata.LOSS, "cross_entropy");
    values.put(TraceMetadata.STEPS_PER_EPOCH, Integer.toString(stepsPerEpoch));
    values.put(TraceMetadata.NUM_CLASSES, Integer.toString(numClasses));
    values.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(infos));
    List<String> described = new ArrayList<>();
    for (Fault fault : faults) {
      described.add(fault.describe());
    }
    values.put("dltrace.synthetic.faults", String.join("; ", described));
    values.put("dltrace.synthetic.seed", Long.toString(seed));
    return TraceMetadata.of(values);
  }

  /** Builder; each setting is checked when it is set. */
  public static final class Builder {
    private int layers = 6;
    private long steps = 1_000;
    private int stepsPerEpoch = 100;
    private long seed = 1;
    private int numClasses = 10;
    private int batchSize = 32;
    private double learningRate = 0.01;
    private boolean optionalPhases = false;
    private final List<Fault> faults = new ArrayList<>();

    private Builder() {}

    public Builder layers(int layers) {
      if (layers < 1 || layers > MAX_LAYERS) {
        throw new IllegalArgumentException(
            format(ROOT, "layers must be in [1, %d]: %s", MAX_LAYERS, layers));
      }
      this.layers = layers;
      return this;
    }

    public Builder steps(long steps) {
      if (steps < 0) {
        throw new IllegalArgumentException(format(ROOT, "steps must not be negative: %s", steps));
      }
      this.steps = steps;
      return this;
    }

    public Builder stepsPerEpoch(int stepsPerEpoch) {
      if (stepsPerEpoch < 1) {
        throw new IllegalArgumentException(
            format(ROOT, "stepsPerEpoch must be positive: %s", stepsPerEpoch));
      }
      this.stepsPerEpoch = stepsPerEpoch;
      return this;
    }

    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public Builder numClasses(int numClasses) {
      if (numClasses < 2) {
        throw new IllegalArgumentException(
            format(ROOT, "numClasses must be at least 2: %s", numClasses));
      }
      this.numClasses = numClasses;
      return this;
    }

    public Builder batchSize(int batchSize) {
      if (batchSize < 1) {
        throw new IllegalArgumentException(
            format(ROOT, "batchSize must be positive: %s", batchSize));
      }
      this.batchSize = batchSize;
      return this;
    }

    public Builder learningRate(double learningRate) {
      if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
        throw new IllegalArgumentException(
            format(ROOT, "learningRate must be positive and finite: %s", learningRate));
      }
      this.learningRate = learningRate;
      return this;
    }

    /** Also record the optional model-level phases input, target and learning_rate. */
    public Builder optionalPhases(boolean optionalPhases) {
      this.optionalPhases = optionalPhases;
      return this;
    }

    public Builder fault(Fault fault) {
      this.faults.add(fault);
      return this;
    }

    public SyntheticTrace build() {
      return new SyntheticTrace(this);
    }
  }
}
