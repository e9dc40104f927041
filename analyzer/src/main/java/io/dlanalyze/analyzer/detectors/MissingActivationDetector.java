package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.AFFINE_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.OUTPUT_ACTIVATION;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.ActivationKind;
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
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Reports a network with no non-linearity: two or more fully connected or convolutional layers,
 * every hidden one with a known linear activation, and no other layer between them that is not
 * linear itself (only flatten, dropout, reshape and normalization layers are allowed). Such a stack
 * computes one linear map, however deep, so it cannot fit anything a single layer cannot. The
 * output layer may end in softmax or sigmoid: that does not make the hidden layers useful. A
 * regression is judged the same way: a model meant to be linear needs one layer, and a stack of
 * linear layers in a regression is a forgotten activation as much as in a classifier.
 *
 * <p>The rule reads {@code dltrace.layers}; a layer whose activation is not known stops it, so a
 * trace without metadata never fires it. Nor does a trace whose forward pass was not watched (no
 * forward or activation rows) when a fully connected or convolutional layer sits inside another
 * layer (a Keras name with {@code /}, a PyTorch one with {@code .}): its linear activation is then
 * only its own configuration, and the layer around it can apply one in its own {@code call()} or
 * {@code forward()} (Keras's Forward-Forward example wraps a linear Dense in a layer that applies
 * ReLU), which only a watched forward pass shows.
 *
 * <p>Side by side is not stacked: when the metadata gives the widths of fully connected layers that
 * follow each other and none takes the width the one before it gives, they run in parallel (a
 * linear model by design, as DLinear's trend and seasonal maps added), and the rule does not fire.
 */
@DetectorSpec(
    id = DetectorIds.MISSING_ACTIVATION,
    symptom = Symptom.MISSING_ACTIVATION,
    severity = Severity.WARNING,
    summary = "Stacked linear layers with no non-linearity between them",
    source =
        "Humbatova et al. 2020, missing activation function (docs/references.md#fault-taxonomy)")
public final class MissingActivationDetector implements Detector {
  /** Last name segments of the projections of a hand-written or Keras attention block. */
  private static final Set<String> QUERY = Set.of("query", "q", "q_proj", "to_q", "wq", "w_q");

  private static final Set<String> KEY = Set.of("key", "k", "k_proj", "to_k", "wk", "w_k");
  private static final Set<String> QKV = Set.of("qkv", "to_qkv", "in_proj", "c_attn", "qkv_proj");

  private long firstStep = -1;
  private long lastStep = -1;
  private long steps;
  private AnalysisContext context;

  /** The rule's outcome once the first layer rows named the layers: -1 before, else 0 or 1. */
  private int settled = -1;

  /** Some layer has a forward or activation row: the recorder watched the forward pass. */
  private boolean watched;

  @Override
  public void begin(AnalysisContext context) {
    this.context = context;
  }

  @Override
  public void observe(StepView step) {
    if (firstStep < 0) {
      firstStep = step.step();
    }
    lastStep = step.step();
    steps++;
    for (int i = 0; !watched && i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      watched = step.has(layer, Phase.FORWARD) || step.has(layer, Phase.ACTIVATION);
    }
    if (settled < 0 && step.presentLayerCount() > 0) {
      settled = finish(context).isEmpty() ? 0 : 1;
    }
  }

  /** The rule reads the metadata and the layers, which the first layer rows settle. */
  @Override
  public int conclusive() {
    return Math.max(settled, 0);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    List<Layer> layers = context.layers();
    if (firstStep < 0 || layers.isEmpty()) {
      return findings;
    }
    List<String> affine = new ArrayList<>();
    LayerInfo previous = null;
    int pairs = 0;
    int links = 0;
    for (int i = 0; i < layers.size(); i++) {
      Layer layer = layers.get(i);
      boolean output = i == layers.size() - 1;
      String type = layer.type() == null ? "" : layer.type().toLowerCase(Locale.ROOT);
      ActivationKind kind = layer.activationKind();
      if (isAffine(type)) {
        if (kind == ActivationKind.UNKNOWN) {
          return findings;
        }
        if (kind != ActivationKind.LINEAR && !output) {
          return findings;
        }
        LayerInfo info = context.metadata().layer(layer.index()).orElse(null);
        if (isFullyConnected(type)) {
          if (previous != null && info != null && widthsKnown(previous) && widthsKnown(info)) {
            pairs++;
            links += previous.fanOut() == info.fanIn() ? 1 : 0;
          }
          previous = info;
        } else {
          previous = null;
        }
        affine.add(layer.name());
      } else if (!isLinearHelper(type)
          || (kind != ActivationKind.LINEAR && kind != ActivationKind.UNKNOWN)) {
        // A layer that is not affine, or a helper that applies a non-linearity of its own (a
        // BatchNorm followed by ReLU is recorded as one layer with activation relu).
        return findings;
      }
    }
    if (pairs > 0 && links == 0) {
      // no fully connected layer takes the width the one before it gives: side by side, not
      // stacked
      return findings;
    }
    if (affine.size() < 2 || hasAttention(layers) || (!watched && anyNested(affine))) {
      return findings;
    }
    Layer output = layers.get(layers.size() - 1);
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.LOSS)
            .steps(firstStep, lastStep, steps)
            .evidence(
                Evidence.builder()
                    .put(AFFINE_LAYERS, (long) affine.size())
                    .put(OUTPUT_ACTIVATION, output.activationKind().wireName())
                    .build())
            .message(
                format(
                    ROOT,
                    "The %d layers %s have no activation between them: together they are one"
                        + " linear map, so depth adds nothing and a non-linear boundary cannot be"
                        + " learned.",
                    affine.size(),
                    String.join(", ", affine)))
            .build());
    return findings;
  }

  /**
   * True when the layers include an attention block, whose softmax over query-key scores is a
   * non-linearity the trace has no row for: Keras records a MultiHeadAttention as its EinsumDense
   * projections (query, key, value, attention_output), and hand-written PyTorch attention often as
   * Linear projections (q_proj, k_proj; qkv) around a functional softmax.
   */
  static boolean hasAttention(List<Layer> layers) {
    boolean query = false;
    boolean key = false;
    for (Layer layer : layers) {
      String type = layer.type() == null ? "" : layer.type().toLowerCase(Locale.ROOT);
      String name = layer.name().toLowerCase(Locale.ROOT);
      if (type.contains("attention") || name.contains("attention") || name.contains("attn")) {
        return true;
      }
      String last = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('.')) + 1);
      if (QKV.contains(last)) {
        return true;
      }
      query |= QUERY.contains(last);
      key |= KEY.contains(last);
    }
    return query && key;
  }

  /** True when a name is a path inside another layer (Keras {@code a/b}, PyTorch {@code a.b}). */
  private static boolean anyNested(List<String> names) {
    for (String name : names) {
      if (name.indexOf('/') >= 0 || name.indexOf('.') >= 0) {
        return true;
      }
    }
    return false;
  }

  /**
   * True when the metadata gives a fully connected layer's input and output widths, and they
   * account for its parameters (a kernel of {@code fan_in x fan_out}, with or without a bias): a
   * weight-normalized layer's first tensor is its gain, of {@code fan_in} 1, whose widths say
   * nothing of what the layer reads.
   */
  private static boolean widthsKnown(LayerInfo info) {
    if (info.fanIn() <= 0 || info.fanOut() <= 0) {
      return false;
    }
    long kernel = info.fanIn() * info.fanOut();
    return info.params() == kernel || info.params() == kernel + info.fanOut();
  }

  private static boolean isFullyConnected(String type) {
    return type.contains("linear") || type.contains("dense");
  }

  private static boolean isAffine(String type) {
    return type.contains("linear") || type.contains("dense") || type.startsWith("conv");
  }

  /** Layers that add no non-linearity of their own. */
  private static boolean isLinearHelper(String type) {
    return type.contains("flatten")
        || type.contains("dropout")
        || type.contains("reshape")
        || type.contains("identity")
        || type.contains("norm");
  }
}
