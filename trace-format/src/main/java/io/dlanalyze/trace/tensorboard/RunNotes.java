package io.dlanalyze.trace.tensorboard;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.tensorboard.RunBuilder.Granularity;
import io.dlanalyze.trace.tensorboard.TagMapping.Target;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The reader's warnings about a TensorBoard run: first what the coarser data cannot serve (which
 * detectors cannot run or see less), then how the tags were read (tags that map to nothing, tags
 * not used because another one serves the same phase, values that could not be placed).
 *
 * <p>The detector ids named here are those of dl-analyze's analyzer; a test of the command line
 * checks that each one exists.
 */
final class RunNotes {
  /** The detectors that need {@code window} consecutive observations (docs/detectors.md). */
  static final String WINDOWED_DETECTORS =
      "dead-or-zero, unchanged-values, not-learning, vanishing-gradient, effective-learning-rate,"
          + " weight-variance";

  /** The window's default (Thresholds.WINDOW in the analyzer). */
  static final int DEFAULT_WINDOW = 50;

  private static final int LISTED = 8;

  private final List<String> mapping = new ArrayList<>();
  private long droppedValues;
  private final List<String> droppedTags = new ArrayList<>();
  private long duplicateSteps;

  void duplicates(long count) {
    duplicateSteps += count;
  }

  /** Notes the values of the series in use that could not be placed. */
  void dropped(List<Series> used, Granularity granularity) {
    for (Series series : used) {
      if (series.dropped == 0) {
        continue;
      }
      droppedValues += series.dropped;
      droppedTags.add(
          format(
              ROOT,
              "%s%s (%d of %d, %s)",
              series.validation ? "validation: " : "",
              series.tag,
              series.dropped,
              series.size,
              granularity == Granularity.EPOCH
                  ? "per-step values in a run logged per epoch"
                  : "per-epoch values with no per-step value before them"));
    }
  }

  void unused(Target target, @Nullable Series best, List<Series> others) {
    List<String> names = new ArrayList<>();
    for (Series other : others) {
      // Keras' evaluation_*_vs_iterations repeat validation/'s epoch_* values
      if (best == null || other.mapped.rank() == 0) {
        names.add(describe(other));
      }
    }
    if (names.isEmpty()) {
      return;
    }
    if (best == null) {
      mapping.add(
          format(
              ROOT,
              "%s: no value of %s could be placed",
              target.wireName(),
              String.join(", ", names)));
      return;
    }
    mapping.add(
        format(
            ROOT,
            "%s: read from %s; also mapped there but not used: %s",
            target.wireName(),
            describe(best),
            String.join(", ", names)));
  }

  void percent(@Nullable Series series, boolean percent) {
    if (series != null && percent) {
      mapping.add(
          format(
              ROOT,
              "%s holds values above 1 and at most 100: read as percent and divided by 100",
              series.tag));
    }
  }

  void duplicateParameter(Series dropped, Series kept) {
    mapping.add(
        format(
            ROOT,
            "histograms %s and %s are the same parameter of layer %s: %s is used",
            dropped.tag,
            kept.tag,
            kept.mapped.layer(),
            kept.tag));
  }

  void leftOut(List<Series> series) {
    if (series.isEmpty()) {
      return;
    }
    List<String> names = new ArrayList<>();
    for (Series one : series) {
      names.add(one.tag);
    }
    mapping.add(
        format(
            ROOT,
            "%d histogram %s of biases and normalization statistics left out (a layer's row holds"
                + " its kernel or weight, as DeepLocalize and the PyTorch recorder record it): %s",
            series.size(),
            series.size() == 1 ? "tag" : "tags",
            listed(names)));
  }

  void emptyHistograms(int count) {
    if (count > 0) {
      mapping.add(format(ROOT, "%d histograms of empty tensors (no values) were skipped", count));
    }
  }

  /**
   * All warnings, in order: truncations, limitations, then the reading notes.
   *
   * @param truncations one line per truncated event file
   * @param phases the phases the trace has rows of
   * @param steps the trace's distinct steps
   * @param layerSteps the steps that have weight or gradient rows
   * @param estimated the layer streams whose moments were estimated from buckets
   */
  List<String> warnings(
      EventCollector collector,
      List<String> truncations,
      Granularity granularity,
      Set<Phase> phases,
      long steps,
      long layerSteps,
      int estimated) {
    List<String> warnings = new ArrayList<>(truncations);
    warnings.add(
        "TensorBoard logs hold no layer outputs, output gradients, inputs or targets (no forward,"
            + " activation, backward, input or target rows): dying-relu, saturation, input-range"
            + " and target-range cannot run, and the other detectors see only the weights,"
            + " gradients and scalars");
    if (phases.contains(Phase.WEIGHT) || phases.contains(Phase.GRADIENT)) {
      warnings.add(
          "histograms carry no zero fraction and no NaN/Inf counts (zero_fraction, nan_count and"
              + " inf_count are null): dead-or-zero takes a tensor whose mean, std, min, max and"
              + " l2_norm are all 0 as all zero, and NaN/Inf shows only through mean, min and max");
    }
    if (!phases.contains(Phase.GRADIENT)) {
      warnings.add(
          "no gradient histograms (Keras' TensorBoard callback logs weights only; with PyTorch,"
              + " add_histogram(name + '.grad', p.grad) logs them): exploding-gradient,"
              + " vanishing-gradient and effective-learning-rate cannot run");
    }
    if (!phases.contains(Phase.WEIGHT)) {
      warnings.add(
          "no weight histograms (Keras: TensorBoard(histogram_freq=1) logs them):"
              + " weight-variance and effective-learning-rate cannot run");
    }
    if (!phases.contains(Phase.LOSS)) {
      warnings.add(
          "no loss scalar: not-learning, oscillating-loss and slow-convergence cannot run, and the"
              + " detectors gated on the loss report info (inconclusive) instead of warnings");
    }
    if (!phases.contains(Phase.ACCURACY)) {
      warnings.add("no accuracy scalar: not-converging cannot run");
    }
    if (granularity == Granularity.EPOCH) {
      warnings.add(
          format(
              ROOT,
              "one value per epoch (Keras' update_freq='epoch'): a step of this trace is an epoch"
                  + " (%d steps)%s",
              steps,
              steps < DEFAULT_WINDOW ? windowClause(steps) : ""));
    } else if (steps > 0 && steps < DEFAULT_WINDOW) {
      warnings.add(format(ROOT, "only %d steps%s", steps, windowClause(steps)));
    }
    if (granularity == Granularity.STEP && layerSteps > 0 && layerSteps < steps) {
      warnings.add(
          format(
              ROOT,
              "weights and gradients are logged at %d of the %d steps (about every %d): the"
                  + " per-layer detectors count those observations as consecutive steps",
              layerSteps,
              steps,
              Math.max(1, Math.round((double) steps / layerSteps))));
    }
    if (estimated > 0) {
      warnings.add(
          format(
              ROOT,
              "%d layer %s TF 2 bucket histograms (tf.summary.histogram, Keras): their mean, std"
                  + " and l2_norm are estimated from the bucket counts, assuming values spread"
                  + " evenly in each bucket (min, max and numel are exact)",
              estimated,
              estimated == 1 ? "stream is from" : "streams are from"));
    }
    warnings.addAll(mapping);
    if (droppedValues > 0) {
      warnings.add(
          format(
              ROOT,
              "%d values could not be placed on the trace's steps and were dropped: %s",
              droppedValues,
              listed(droppedTags)));
    }
    if (duplicateSteps > 0) {
      warnings.add(
          format(
              ROOT,
              "%d values repeat a tag at a step already read (a restarted run?): the later one is"
                  + " used",
              duplicateSteps));
    }
    Map<String, long[]> unmapped = collector.unmapped();
    if (!unmapped.isEmpty()) {
      List<String> names = new ArrayList<>();
      for (Map.Entry<String, long[]> entry : unmapped.entrySet()) {
        names.add(format(ROOT, "%s x%d", entry.getKey(), entry.getValue()[0]));
      }
      warnings.add(
          format(
              ROOT,
              "%d %s no phase and %s skipped (map them in %s, see docs/trace-format.md): %s",
              unmapped.size(),
              unmapped.size() == 1 ? "tag maps to" : "tags map to",
              unmapped.size() == 1 ? "was" : "were",
              TensorBoardRun.TAGS_FILE,
              listed(names)));
    }
    Map<String, long[]> plugins = collector.skippedPlugins();
    if (!plugins.isEmpty()) {
      List<String> names = new ArrayList<>();
      for (Map.Entry<String, long[]> entry : plugins.entrySet()) {
        names.add(format(ROOT, "%s x%d", entry.getKey(), entry.getValue()[0]));
      }
      warnings.add("values that are neither scalars nor histograms were skipped: " + listed(names));
    }
    if (collector.negativeSteps() > 0) {
      warnings.add(
          format(ROOT, "%d values at negative steps were skipped", collector.negativeSteps()));
    }
    if (collector.unreadableValues() > 0) {
      warnings.add(
          format(
              ROOT,
              "%d scalar or histogram tensors of an unexpected type or shape were skipped",
              collector.unreadableValues()));
    }
    return warnings;
  }

  /** The phases of a finished table. */
  static Set<Phase> phases(RunTable table) {
    Set<Phase> phases = EnumSet.noneOf(Phase.class);
    for (int r = 0; r < table.size; r++) {
      phases.add(Phase.ofCode(table.phase[r]));
    }
    return phases;
  }

  private static String windowClause(long steps) {
    return format(
        ROOT,
        ": the detectors that need `window` steps in a row (default %d: %s) fire only with"
            + " --window %d or less",
        DEFAULT_WINDOW,
        WINDOWED_DETECTORS,
        Math.max(1, steps));
  }

  private static String describe(Series series) {
    return format(
        ROOT,
        "%s%s (%d values)",
        series.validation ? "validation: " : "",
        series.tag,
        series.placedCount());
  }

  private static String listed(List<String> names) {
    if (names.size() <= LISTED) {
      return String.join(", ", names);
    }
    return String.join(", ", names.subList(0, LISTED))
        + format(ROOT, " and %d more", names.size() - LISTED);
  }
}
