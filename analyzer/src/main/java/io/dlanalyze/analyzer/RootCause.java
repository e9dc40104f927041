package io.dlanalyze.analyzer;

import static java.util.Objects.requireNonNull;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The report's best guess at what to fix first: one most likely cause with a concrete fix, the
 * finding it rests on, and the other candidate causes.
 *
 * @param scope {@code "layer"} or {@code "model"}
 * @param layerIndex the layer, or -1 for the model
 * @param layerName the layer's name, or {@code "model"}
 * @param cause one sentence: what went wrong where and when, with the numbers
 * @param suggestedFix a fix hint, or {@code null} when there is none (DeepLocalize gives none)
 * @param symptom the symptom class of the finding the cause rests on, or {@code null}
 * @param findingRank the rank (1-based) of that finding in the report, or 0 when unknown
 * @param alternatives other candidate causes, most likely first
 */
public record RootCause(
    String scope,
    int layerIndex,
    String layerName,
    String cause,
    @Nullable String suggestedFix,
    @Nullable String symptom,
    int findingRank,
    List<Alternative> alternatives) {
  public static final String LAYER = "layer";
  public static final String MODEL = "model";

  public RootCause {
    requireNonNull(scope, "scope is null");
    requireNonNull(layerName, "layerName is null");
    requireNonNull(cause, "cause is null");
    alternatives = List.copyOf(alternatives);
    if (!scope.equals(LAYER) && !scope.equals(MODEL)) {
      throw new IllegalArgumentException("scope must be layer or model: " + scope);
    }
  }

  /** A root cause without a named finding or alternatives (deeplocalize mode, plug-ins). */
  public RootCause(
      String scope, int layerIndex, String layerName, String cause, @Nullable String suggestedFix) {
    this(scope, layerIndex, layerName, cause, suggestedFix, null, 0, List.of());
  }

  /** A copy with these alternatives. */
  public RootCause withAlternatives(List<Alternative> alternatives) {
    return new RootCause(
        scope, layerIndex, layerName, cause, suggestedFix, symptom, findingRank, alternatives);
  }

  /**
   * Another candidate cause.
   *
   * @param cause one sentence with the numbers
   * @param suggestedFix a fix hint, or {@code null}
   * @param symptom the symptom class of the finding it rests on
   * @param findingRank the rank (1-based) of that finding
   */
  public record Alternative(String cause, String suggestedFix, String symptom, int findingRank) {
    public Alternative {
      requireNonNull(cause, "cause is null");
      requireNonNull(symptom, "symptom is null");
    }
  }
}
