package io.dlanalyze.analyzer.compare;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.Phase;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Two traces side by side, as {@link TraceComparison} found them: run {@code a} is the first trace
 * given, {@code b} the second.
 *
 * @param a the first run
 * @param b the second run
 * @param bandWidth the band's width in typical step-to-step changes (see {@link TraceComparison})
 * @param commonSteps steps both traces hold
 * @param notes what does not line up (lengths, phases, renamed or missing layers), one sentence
 *     each
 * @param layers how the layers were paired
 * @param divergences the first divergence of every (layer, phase) pair that diverged, earliest
 *     first
 * @param curves loss, accuracy and their validation counterparts of both runs, step by step
 * @param layerSeries the statistics of the earliest divergences' (layer, phase) pairs in both runs
 * @param findings the findings of both runs' analyses, paired
 */
public record Comparison(
    Run a,
    Run b,
    double bandWidth,
    long commonSteps,
    List<String> notes,
    List<LayerMatch> layers,
    List<Divergence> divergences,
    List<Curve> curves,
    List<Curve> layerSeries,
    List<FindingMatch> findings) {
  public Comparison {
    requireNonNull(a, "a is null");
    requireNonNull(b, "b is null");
    notes = List.copyOf(notes);
    layers = List.copyOf(layers);
    divergences = List.copyOf(divergences);
    curves = List.copyOf(curves);
    layerSeries = List.copyOf(layerSeries);
    findings = List.copyOf(findings);
  }

  /** The earliest divergence, or {@code null} when the runs stay in each other's bands. */
  public @Nullable Divergence firstDivergence() {
    return divergences.isEmpty() ? null : divergences.get(0);
  }

  /**
   * One run.
   *
   * @param path the trace as given
   * @param steps steps in the trace
   * @param firstStep its first step, -1 when empty
   * @param lastStep its last step, -1 when empty
   * @param phases the known phases it holds, in phase order
   * @param report its analysis
   */
  public record Run(
      String path, long steps, long firstStep, long lastStep, List<Phase> phases, Report report) {
    public Run {
      requireNonNull(path, "path is null");
      phases = List.copyOf(phases);
      requireNonNull(report, "report is null");
    }
  }

  /** How a layer of one run was paired with a layer of the other. */
  public enum How {
    /** same name and type */
    NAME("name"),
    /** same name, another type */
    NAME_OTHER_TYPE("name, other type"),
    /** different names at the same index, same type: a renamed layer */
    POSITION("position (renamed)"),
    ONLY_A("only in a"),
    ONLY_B("only in b");

    private final String wireName;

    How(String wireName) {
      this.wireName = wireName;
    }

    public String wireName() {
      return wireName;
    }
  }

  /**
   * A layer pairing; indices are -1 and names {@code null} on the side that lacks the layer.
   *
   * @param indexA layer_index in a
   * @param nameA its name in a
   * @param indexB layer_index in b
   * @param nameB its name in b
   * @param type the layer type (a's, else b's), or {@code null}
   * @param how why these two were paired
   */
  public record LayerMatch(
      int indexA,
      @Nullable String nameA,
      int indexB,
      @Nullable String nameB,
      @Nullable String type,
      How how) {
    public LayerMatch {
      requireNonNull(how, "how is null");
    }

    /** The name to show: a's, with b's after an arrow when it differs. */
    public String label() {
      if (nameA == null) {
        return requireNonNull(nameB, "a pair names a layer of a or b");
      }
      return nameB == null || nameB.equals(nameA) ? nameA : nameA + " -> " + nameB;
    }
  }

  /**
   * The first step at which a statistic of one (layer, phase) left the other run's band.
   *
   * @param layer the pair's label ("model" for model-level phases, "fc1 -> dense" when renamed)
   * @param layerIndexA the layer's index in a (-1: model-level)
   * @param phase the phase
   * @param step the step
   * @param statistic the statistic's column name ({@code nan_count + inf_count} for non-finite)
   * @param valueA its value in a
   * @param valueB its value in b
   * @param low the low end of the band it left
   * @param high the high end
   * @param left which run left which band: {@code "b left a's band"} or {@code "a left b's band"}
   */
  public record Divergence(
      String layer,
      int layerIndexA,
      Phase phase,
      long step,
      String statistic,
      double valueA,
      double valueB,
      double low,
      double high,
      String left) {
    public Divergence {
      requireNonNull(layer, "layer is null");
      requireNonNull(phase, "phase is null");
      requireNonNull(statistic, "statistic is null");
      requireNonNull(left, "left is null");
    }
  }

  /**
   * A statistic of both runs over the steps either holds. {@code hasA[i]} says whether a holds a
   * value at {@code steps[i]} (then {@code a[i]} is it, NaN included).
   */
  public record Curve(
      String name,
      Phase phase,
      String statistic,
      long[] steps,
      double[] a,
      boolean[] hasA,
      double[] b,
      boolean[] hasB) {
    public Curve {
      requireNonNull(name, "name is null");
      if (a.length != steps.length
          || b.length != steps.length
          || hasA.length != steps.length
          || hasB.length != steps.length) {
        throw new IllegalArgumentException("a curve's arrays must have one entry per step");
      }
    }
  }

  /**
   * A finding of one run and its counterpart in the other (same detector, layer and phase), if any.
   *
   * @param detector the detector id
   * @param layer the layer's label, "model" for model-level findings
   * @param phase the phase
   * @param severity the severity (a's when both have it)
   * @param firstStepA the finding's first step in a, or -1 when a does not have it
   * @param firstStepB the same in b
   */
  public record FindingMatch(
      String detector,
      String layer,
      Phase phase,
      String severity,
      long firstStepA,
      long firstStepB) {
    public FindingMatch {
      requireNonNull(detector, "detector is null");
      requireNonNull(layer, "layer is null");
      requireNonNull(phase, "phase is null");
    }

    /** "both", "only a" or "only b". */
    public String presence() {
      return firstStepA >= 0 && firstStepB >= 0 ? "both" : firstStepA >= 0 ? "only a" : "only b";
    }
  }
}
