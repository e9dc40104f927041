package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.LossFunction;
import io.dlanalyze.analyzer.OneHot;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import org.jspecify.annotations.Nullable;

/**
 * The number of classes of a categorical cross-entropy when the metadata does not give it ({@code
 * dltrace.num_classes} is not a key of format v1): the width of the output layer, read off the
 * first step's rows. A categorical cross-entropy scores K values per example (or per position of a
 * sequence), so the output layer's row holds K times as many elements as the labels:
 *
 * <ul>
 *   <li>with {@code target} rows of class indices (whole numbers from 0), K is the output's element
 *       count over the targets', when that is a whole number of at least 2 and above the largest
 *       label;
 *   <li>with one-hot (or label-smoothed) target rows, as many elements as the output, each row sums
 *       to 1, so the target mean is 1/K;
 *   <li>without target rows, K is the output's element count over {@code dltrace.batch_size}. For a
 *       sequence output that is the sequence length times K: too many classes, which makes the
 *       rules that read K (the loss of a uniform guess, log K) slower to fire, never quicker.
 * </ul>
 *
 * <p>The recorders of this project write the count themselves, from the same width.
 */
final class ClassCount {
  /** The inferred count and how it was read, for the report's notes. */
  record Inferred(int classes, String how) {}

  private ClassCount() {}

  /**
   * The count the first step implies, or null when the metadata has one, the loss is not a
   * categorical cross-entropy, or the step does not say.
   */
  static @Nullable Inferred infer(TraceMetadata metadata, StepView first, @Nullable Layer output) {
    if (metadata.numClasses().isPresent() || output == null) {
      return null;
    }
    LossFunction loss = LossFunction.of(metadata);
    if (!loss.crossEntropy() || loss.binary()) {
      return null;
    }
    long outputs = elements(first, output.index());
    if (outputs <= 0) {
      return null;
    }
    String width =
        format(
            ROOT,
            "the output layer %s holds %d values at step %d",
            output.name(),
            outputs,
            first.step());
    if (first.present(-1, Phase.TARGET, Column.NUMEL)) {
      long targets = first.count(-1, Phase.TARGET, Column.NUMEL);
      if (targets <= 0) {
        return null;
      }
      if (targets == outputs) {
        return oneHot(first, width);
      }
      if (outputs % targets != 0
          || outputs / targets < 2
          || outputs / targets > Integer.MAX_VALUE) {
        return null;
      }
      int classes = (int) (outputs / targets);
      if (!classIndexes(first, classes)) {
        return null;
      }
      return new Inferred(classes, format(ROOT, "%s for %d class labels", width, targets));
    }
    int batch = metadata.batchSize().orElse(0);
    if (batch <= 0 || outputs % batch != 0 || outputs / batch < 2) {
      return null;
    }
    return new Inferred(
        (int) Math.min(Integer.MAX_VALUE, outputs / batch),
        format(ROOT, "%s for a batch of %d (dltrace.batch_size)", width, batch));
  }

  /** The element count of the layer's output at this step, or -1. */
  private static long elements(StepView step, int layer) {
    for (Phase phase : new Phase[] {Phase.ACTIVATION, Phase.FORWARD}) {
      if (step.present(layer, phase, Column.NUMEL)) {
        return step.count(layer, phase, Column.NUMEL);
      }
    }
    return -1;
  }

  /** True when the targets are whole numbers in [0, classes). */
  private static boolean classIndexes(StepView step, int classes) {
    if (!step.present(-1, Phase.TARGET, Column.MIN)
        || !step.present(-1, Phase.TARGET, Column.MAX)) {
      return false;
    }
    double min = step.value(-1, Phase.TARGET, Column.MIN);
    double max = step.value(-1, Phase.TARGET, Column.MAX);
    return min >= 0 && max < classes && min == Math.rint(min) && max == Math.rint(max);
  }

  /** K from one-hot target rows (mean 1/K, values in [0, 1]), or null. */
  private static @Nullable Inferred oneHot(StepView step, String width) {
    if (!step.present(-1, Phase.TARGET, Column.MEAN)
        || !step.present(-1, Phase.TARGET, Column.MIN)
        || !step.present(-1, Phase.TARGET, Column.MAX)
        || step.value(-1, Phase.TARGET, Column.MIN) < 0
        || step.value(-1, Phase.TARGET, Column.MAX) > 1) {
      return null;
    }
    int classes = OneHot.classes(step.mean(-1, Phase.TARGET));
    if (classes == 0) {
      return null;
    }
    return new Inferred(
        classes,
        format(
            ROOT, "%s, as many as the targets, whose mean is 1/%d (one-hot rows)", width, classes));
  }
}
