package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_RMS;
import static io.dlanalyze.analyzer.EvidenceKeys.PARAMETER_RMS;
import static io.dlanalyze.analyzer.EvidenceKeys.RANGE_OVER_STD;
import static io.dlanalyze.analyzer.EvidenceKeys.WEIGHT_COUNT;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Reports what {@code dltrace.layers} says about how each layer trains, which the statistics alone
 * cannot tell:
 *
 * <ul>
 *   <li><b>Frozen layers</b> ({@code trainable: false}, or {@code in_optimizer: false}: parameters
 *       the optimizer never updates), listed by name at {@code info}. Freezing is often deliberate
 *       (fine-tuning); the root-cause analysis blames a frozen layer only when the run does not
 *       learn.
 *   <li><b>A normalization layer in inference mode</b> ({@code training: false}) while the model
 *       trains and the layer itself is trainable: a BatchNorm left in eval mode normalizes with its
 *       running statistics (mean 0, variance 1 at the start) instead of the batch's, so it passes
 *       unscaled inputs through. A warning at that layer when it is trainable (a forgotten {@code
 *       model.eval()}/{@code training=False}), or when its output reached an RMS of 10 or more (it
 *       did not normalize); a frozen layer that normalizes is a deliberate choice (fine tuning) and
 *       stays info.
 *   <li><b>A batch normalization layer that did not normalize</b>, when {@code dltrace.layers} does
 *       not say its mode (a Keras layer called with {@code training=False} inside {@code call()}
 *       has no flag a recorder can read): a trainable BatchNorm whose output RMS, at its first
 *       recorded forward pass, reached {@link #UNNORMALIZED_EXCESS} times the RMS of its recorded
 *       parameters (at least 1). With the batch's statistics each channel comes out with unit
 *       variance before the scale, so the output's RMS stays near the scale's: on the healthy dev
 *       runs and fixed twins at most 1.14 times it (docs/evaluation.md#calibration). In inference
 *       mode with fresh running statistics the layer passes its inputs through, scaled. Only the
 *       first pass is judged: it runs with the initial scale and shift, while later the shift
 *       (which the recorders do not write: no bias rows) and the running statistics drift, and a
 *       learning rate far too high drives the output away from the recorded scale in either mode. A
 *       warning at that layer, as for {@code training: false}.
 * </ul>
 *
 * A trace without {@code dltrace.layers} (or without these fields) gets no finding: the report
 * lists the metadata it lacks.
 */
@DetectorSpec(
    id = DetectorIds.LAYER_MODE,
    symptom = Symptom.UNCHANGED_VALUES,
    severity = Severity.INFO,
    summary = "Frozen layers, and normalization layers left in inference mode while training",
    source =
        "Humbatova et al. 2020, frozen layer and wrong training mode"
            + " (docs/references.md#fault-taxonomy)",
    columns = {Column.MEAN, Column.STD, Column.MIN, Column.MAX, Column.L2_NORM, Column.NUMEL})
public final class LayerModeDetector implements Detector {
  /** Output RMS at or above which a normalization layer is not normalizing. */
  private static final double UNNORMALIZED_RMS = 10;

  /**
   * Output RMS over parameter RMS at or above which a batch normalization layer of unknown mode did
   * not normalize: 3x the healthy dev extreme of 1.68 (the BatchNorm of a Keras graph network's
   * update step, whose inputs are aggregated messages; docs/evaluation.md#calibration).
   */
  public static final double UNNORMALIZED_EXCESS = 5.1;

  private long firstStep = -1;
  private long lastStep = -1;
  private long steps;
  private final Map<Integer, Double> outputRms = new TreeMap<>();

  /**
   * Trainable batch normalization layers whose mode the metadata does not give: the ratio of output
   * RMS to parameter RMS (at least 1) at the layer's first forward pass, that output RMS and
   * parameter RMS, and 1 once that pass was seen.
   */
  private final Map<Integer, double[]> unknownMode = new TreeMap<>();

  private AnalysisContext context;

  /**
   * The first weight row of a layer the metadata marks frozen. A later row that differs means the
   * layer was updated: unfrozen during the run (a fine-tuning phase after a frozen one; the
   * recorders write {@code dltrace.layers} once, at the first step).
   */
  private static final class FirstWeights {
    boolean seen;
    double mean;
    double norm;
    double std;
    double min;
    double max;
    long numel;

    /** The range of the weights over their standard deviation (2 sqrt(3) for a uniform draw). */
    double rangeOverStd() {
      return (max - min) / std;
    }
  }

  /** Layers the metadata marks frozen, by index: their first weight row. */
  private final Map<Integer, FirstWeights> frozenWeights = new TreeMap<>();

  /** The step at which each layer marked frozen was first seen updated. */
  private final Map<Integer, Long> unfrozenAt = new TreeMap<>();

  /**
   * The findings after the first step (they come from the metadata and the layers' types, which the
   * first rows settle), plus one for each normalization layer whose output reached {@link
   * #UNNORMALIZED_RMS} since (a frozen one's info becomes a warning); -1 before the first step.
   */
  private int settled = -1;

  @Override
  public void begin(AnalysisContext context) {
    this.context = context;
    for (LayerInfo info : context.metadata().layers()) {
      if (info.frozen()) {
        frozenWeights.put(info.index(), new FirstWeights());
      }
      if (Boolean.FALSE.equals(info.training())) {
        outputRms.put(info.index(), 0.0);
      } else if (info.training() == null && !info.frozen() && batchNormalization(info.type())) {
        unknownMode.put(info.index(), new double[4]);
      }
    }
  }

  @Override
  public void observe(StepView step) {
    if (firstStep < 0) {
      firstStep = step.step();
    }
    lastStep = step.step();
    steps++;
    for (Map.Entry<Integer, Double> entry : outputRms.entrySet()) {
      int layer = entry.getKey();
      if (layer >= step.layerCount() || !step.has(layer, Phase.FORWARD)) {
        continue;
      }
      double rms = rms(step, layer, Phase.FORWARD);
      if (Double.isFinite(rms) && rms > entry.getValue()) {
        if (settled > 0 && entry.getValue() < UNNORMALIZED_RMS && rms >= UNNORMALIZED_RMS) {
          settled++;
        }
        entry.setValue(rms);
      }
    }
    for (Map.Entry<Integer, double[]> entry : unknownMode.entrySet()) {
      int layer = entry.getKey();
      if (layer >= step.layerCount() || !step.has(layer, Phase.FORWARD)) {
        continue;
      }
      double[] seen = entry.getValue();
      if (seen[3] > 0) {
        // judged at its first forward pass only: see the class comment
        continue;
      }
      seen[3] = 1;
      double rms = rms(step, layer, Phase.FORWARD);
      double params = step.has(layer, Phase.WEIGHT) ? rms(step, layer, Phase.WEIGHT) : seen[2];
      double excess = rms / Math.max(1, Double.isFinite(params) ? params : 1);
      if (Double.isFinite(excess) && excess > seen[0]) {
        if (settled >= 0 && seen[0] < UNNORMALIZED_EXCESS && excess >= UNNORMALIZED_EXCESS) {
          settled++;
        }
        seen[0] = excess;
        seen[1] = rms;
        seen[2] = params;
      }
    }
    for (Map.Entry<Integer, FirstWeights> entry : frozenWeights.entrySet()) {
      int layer = entry.getKey();
      if (layer >= step.layerCount()
          || unfrozenAt.containsKey(layer)
          || !step.has(layer, Phase.WEIGHT)) {
        continue;
      }
      double mean = step.mean(layer, Phase.WEIGHT);
      double norm = Rows.valueOr(step, layer, Phase.WEIGHT, Column.L2_NORM, Double.NaN);
      FirstWeights first = entry.getValue();
      if (!first.seen) {
        first.seen = true;
        first.mean = mean;
        first.norm = norm;
        first.std = Rows.valueOr(step, layer, Phase.WEIGHT, Column.STD, Double.NaN);
        first.min = Rows.valueOr(step, layer, Phase.WEIGHT, Column.MIN, Double.NaN);
        first.max = Rows.valueOr(step, layer, Phase.WEIGHT, Column.MAX, Double.NaN);
        first.numel = step.count(layer, Phase.WEIGHT, Column.NUMEL);
      } else if (Double.compare(mean, first.mean) != 0 || Double.compare(norm, first.norm) != 0) {
        unfrozenAt.put(layer, step.step());
      }
    }
    if (settled < 0) {
      settled = modeFindings(context).size();
    }
  }

  private static double rms(StepView step, int layer, Phase phase) {
    double mean = step.mean(layer, phase);
    double std = Rows.valueOr(step, layer, phase, Column.STD, 0);
    return Math.sqrt(mean * mean + std * std);
  }

  private static boolean batchNormalization(@Nullable String type) {
    return type != null && type.toLowerCase(ROOT).contains("batchnorm");
  }

  /**
   * The normalization-mode findings are final once seen; the frozen-layer finding waits for the end
   * of the run, since a layer marked frozen may be updated later (unfrozen for fine-tuning).
   */
  @Override
  public int conclusive() {
    return Math.max(settled, 0);
  }

  @Override
  public List<Finding> conclusiveFindings(AnalysisContext context) {
    return modeFindings(context);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (firstStep < 0) {
      return findings;
    }
    List<String> frozen = new ArrayList<>();
    List<String> unfrozen = new ArrayList<>();
    int lastFrozen = -1;
    for (LayerInfo info : context.metadata().layers()) {
      if (!info.frozen()) {
        continue;
      }
      Long at = unfrozenAt.get(info.index());
      FirstWeights first = frozenWeights.get(info.index());
      if (at != null) {
        unfrozen.add(format(ROOT, "%s from step %d", info.name(), at));
      } else if (first != null && uniformDraw(first)) {
        findings.add(randomlyFrozen(info, first));
      } else {
        frozen.add(info.name());
        lastFrozen = Math.max(lastFrozen, info.index());
      }
    }
    if (!frozen.isEmpty()) {
      String later =
          unfrozen.isEmpty()
              ? ""
              : format(
                  ROOT,
                  "; marked frozen too but updated during the run (unfrozen): %s",
                  String.join(", ", unfrozen));
      findings.add(
          Finding.builder(this)
              .at(lastFrozen, Phase.WEIGHT)
              .steps(firstStep, lastStep, steps)
              .evidence(Evidence.builder().put(AFFECTED_LAYERS, (long) frozen.size()).build())
              .message(
                  format(
                      ROOT,
                      "%d %s frozen (the optimizer never updates %s): %s%s.",
                      frozen.size(),
                      frozen.size() == 1 ? "layer is" : "layers are",
                      frozen.size() == 1 ? "it" : "them",
                      String.join(", ", frozen),
                      later))
              .build());
    }
    findings.addAll(modeFindings(context));
    return findings;
  }

  /**
   * The fewest weights for which {@link #uniformDraw} tells a uniform draw from trained weights:
   * the spread of range / std over draws of n uniform values is about 2 sqrt(3) x 0.45 / sqrt(n),
   * 1.4% at 1,000 (3.7% at 144, where the briefly pre-trained frozen convolutions of the dev corpus
   * sit within it).
   */
  static final double UNIFORM_MIN_WEIGHTS = 1000;

  /**
   * True when a weight tensor's first recorded values look like a fresh uniform draw: their range
   * over their standard deviation within three spreads of the 2 sqrt(3) (less the gap a sample of n
   * leaves at each end) of a uniform distribution. Glorot's and He's uniform initializers (Keras'
   * default for Dense and convolution kernels), PyTorch's default for Linear, convolution and
   * recurrent layers and Keras' for Embedding all draw uniformly; training widens the tails (the
   * frozen pre-trained layers of the dev corpus with 512 weights or more sit at 4.1 to 5.0).
   */
  private static boolean uniformDraw(FirstWeights first) {
    double n = first.numel;
    if (!first.seen
        || !(first.std > 0)
        || !(n >= UNIFORM_MIN_WEIGHTS)
        || !Double.isFinite(first.min + first.max)) {
      return false;
    }
    double ratio = first.rangeOverStd();
    double expected = 2 * Math.sqrt(3) * (1 - 1 / (n + 1));
    double spread = 2 * Math.sqrt(3) * Math.sqrt(0.8 / (4 * n));
    return Math.abs(ratio - expected) <= 3 * spread;
  }

  /**
   * A layer marked frozen whose weights never moved from a uniform random draw: it holds random
   * weights that nothing will ever train, which no deliberate freeze (of pre-trained weights) does.
   */
  private Finding randomlyFrozen(LayerInfo info, FirstWeights first) {
    double ratio = first.rangeOverStd();
    return Finding.builder(this)
        .symptom(Symptom.UNCHANGED_VALUES)
        .severity(Severity.WARNING)
        .at(info.index(), Phase.WEIGHT)
        .steps(firstStep, lastStep, steps)
        .evidence(
            Evidence.builder().put(RANGE_OVER_STD, ratio).put(WEIGHT_COUNT, first.numel).build())
        .message(
            format(
                ROOT,
                "%s is frozen (the optimizer never updates it) with weights that are still a"
                    + " random initialization: their range is %s standard deviations over %d"
                    + " weights, that of a uniform draw (2 sqrt(3) = 3.46), which any training"
                    + " would have widened; random weights that never train are a layer frozen by"
                    + " mistake.",
                info.name(),
                Numbers.format(ratio),
                first.numel))
        .build();
  }

  /** The findings about normalization layers' modes (not the frozen layers). */
  private List<Finding> modeFindings(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (firstStep < 0) {
      return findings;
    }
    int trainingLayers = 0;
    for (LayerInfo info : context.metadata().layers()) {
      if ((!info.frozen() || unfrozenAt.containsKey(info.index())) && info.params() != 0) {
        trainingLayers++;
      }
    }
    if (trainingLayers == 0) {
      return findings;
    }
    for (LayerInfo info : context.metadata().layers()) {
      Layer layer = context.layer(info.index());
      if (!Boolean.FALSE.equals(info.training()) || !layer.isNormalization()) {
        continue;
      }
      double rms = outputRms.getOrDefault(info.index(), 0.0);
      boolean unnormalized = rms >= UNNORMALIZED_RMS;
      findings.add(
          Finding.builder(this)
              .symptom(Symptom.SATURATION)
              .severity(!info.frozen() || unnormalized ? Severity.WARNING : Severity.INFO)
              .at(info.index(), Phase.FORWARD)
              .steps(firstStep, lastStep, steps)
              .evidence(Evidence.builder().put(OUTPUT_RMS, rms).build())
              .message(
                  format(
                      ROOT,
                      "The normalization layer %s ran in inference mode while the model trained:"
                          + " it normalized with its running statistics, not the batch's%s.",
                      info.name(),
                      unnormalized
                          ? format(
                              ROOT,
                              ", and its output reached an RMS of %s: it did not normalize",
                              Numbers.format(rms))
                          : ""))
              .build());
    }
    for (Map.Entry<Integer, double[]> entry : unknownMode.entrySet()) {
      double[] seen = entry.getValue();
      if (seen[0] < UNNORMALIZED_EXCESS) {
        continue;
      }
      String name = context.layer(entry.getKey()).name();
      findings.add(
          Finding.builder(this)
              .symptom(Symptom.SATURATION)
              .severity(Severity.WARNING)
              .at(entry.getKey(), Phase.FORWARD)
              .steps(firstStep, lastStep, steps)
              .evidence(
                  Evidence.builder().put(OUTPUT_RMS, seen[1]).put(PARAMETER_RMS, seen[2]).build())
              .message(
                  format(
                      ROOT,
                      "The batch normalization layer %s did not normalize: its output reached an"
                          + " RMS of %s, %sx the RMS of its parameters (%s); with the batch's"
                          + " statistics it stays near them. It ran in inference mode (called with"
                          + " training=False, or switched to eval()), normalizing with its running"
                          + " statistics.",
                      name,
                      Numbers.format(seen[1]),
                      Numbers.format(seen[0]),
                      Numbers.format(seen[2])))
              .build());
    }
    return findings;
  }
}
