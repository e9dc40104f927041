package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Which rules lose their input when a trace lacks a {@code dltrace.*} key. Files rewritten by
 * pandas, polars or DuckDB drop the Parquet key-value metadata; the statistics alone then decide,
 * and the report and {@code inspect} say what did not run, so that a different root cause than a
 * fully described run's is explained, not silent.
 */
public final class MetadataGaps {
  /**
   * A metadata key, what reads it, and the dltrace recorders' argument that writes it when they
   * cannot see it themselves (a loss kept outside {@code compile}), or null.
   */
  private record Need(String key, String readers, @Nullable String recorderArgument) {
    Need(String key, String readers) {
      this(key, readers, null);
    }
  }

  private static final List<Need> NEEDS =
      List.of(
          new Need(
              TraceMetadata.LAYERS,
              "missing-activation, layer-mode (frozen layers, normalization in inference mode),"
                  + " the output-activation rules of loss-definition and target-range,"
                  + " gradient-accumulation's check for layers outside the optimizer, and the"
                  + " root-cause rules that compare a finding with every layer"),
          new Need(
              TraceMetadata.LOSS,
              "loss-definition, initial-loss, not-converging's regression rule, the ReLU"
                  + " output rule of target-range and loss-divergence's uniform-guess start",
              "loss_name"),
          new Need(
              TraceMetadata.NUM_CLASSES,
              "initial-loss, loss-definition's class-count rule and loss-divergence's"
                  + " uniform-guess start",
              "num_classes"),
          new Need(
              TraceMetadata.OPTIMIZER,
              "the learning-rate bands of the root cause (adaptive optimizers and SGD differ)"
                  + " and effective-learning-rate's adaptive-optimizer rule"),
          new Need(
              TraceMetadata.LEARNING_RATE,
              "effective-learning-rate (unless the trace has learning_rate rows) and the"
                  + " learning-rate fixes of the root cause"),
          new Need(TraceMetadata.TASK, "the chance level of not-converging", "task"));

  private MetadataGaps() {}

  /**
   * True when the trace says why the key is absent: a run whose task is not classification has no
   * class count (the rules that read one judge classifiers only).
   */
  private static boolean notNeeded(Need need, TraceMetadata metadata) {
    return need.key().equals(TraceMetadata.NUM_CLASSES)
        && metadata.task().filter(task -> !task.equalsIgnoreCase("classification")).isPresent();
  }

  /**
   * One line per absent key that some rule reads, naming the rules that did not get it; empty when
   * nothing is missing. A trace without any {@code dltrace.*} key gets one line for all of them.
   */
  public static List<String> notes(TraceMetadata metadata) {
    return notes(metadata, false);
  }

  /**
   * As {@link #notes(TraceMetadata)}, for an analysis that knows the class count ({@code
   * classCountKnown}) although the metadata lacks it: the engine read it off the output layer
   * ({@link AnalysisContext#numClasses()}) and says so in its own note, and the rules that read it
   * ran.
   */
  public static List<String> notes(TraceMetadata metadata, boolean classCountKnown) {
    List<String> absent = new ArrayList<>();
    List<String> lines = new ArrayList<>();
    for (Need need : NEEDS) {
      boolean inferred = classCountKnown && need.key().equals(TraceMetadata.NUM_CLASSES);
      if (metadata.get(need.key()).isEmpty() && !notNeeded(need, metadata)) {
        absent.add(need.key());
        if (inferred) {
          continue;
        }
        lines.add(
            format(ROOT, "no %s in the metadata: %s did not run", need.key(), need.readers())
                + (need.recorderArgument() == null
                    ? ""
                    : format(
                        ROOT,
                        " (give it to the dltrace recorder as %s= when it cannot read it off the"
                            + " model, e.g. a Keras loss kept outside compile)",
                        need.recorderArgument())));
      }
    }
    if (!metadata.lossMeasuresProgress()) {
      List<String> trend =
          BuiltInDetectors.all().stream()
              .filter(DetectorInfo::judgesProgress)
              .map(DetectorInfo::id)
              .toList();
      lines.add(
          format(
              ROOT,
              "%s is %s: the loss is not minimized, so neither it nor the accuracy measures"
                  + " progress as a supervised run's do; the detectors that judge progress (%s)"
                  + " did not run and the rules the loss gates stayed at info; numerical errors,"
                  + " dead, frozen and exploding parts are still judged",
              TraceMetadata.OBJECTIVE,
              metadata.objective(),
              String.join(", ", trend)));
    }
    if (absent.size() == NEEDS.size()) {
      return List.of(
          "none of the dltrace.* metadata the rules read (dltrace.layers, loss, num_classes,"
              + " optimizer, learning_rate, task; a file rewritten by pandas, polars or DuckDB"
              + " drops it): missing-activation, layer-mode, loss-definition, initial-loss and the"
              + " metadata-based rules of target-range, not-converging, effective-learning-rate"
              + " and the root cause did not run; the statistics alone decided");
    }
    return lines;
  }
}
