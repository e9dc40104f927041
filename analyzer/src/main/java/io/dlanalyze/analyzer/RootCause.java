package io.dlanalyze.analyzer;

import static java.util.Objects.requireNonNull;

/**
 * The report's best guess at what to fix first, derived from the top-ranked finding.
 *
 * @param scope {@code "layer"} or {@code "model"}
 * @param layerIndex the layer, or -1 for the model
 * @param layerName the layer's name, or {@code "model"}
 * @param cause one sentence: what went wrong where and when
 * @param suggestedFix a fix hint, or {@code null} when there is none (DeepLocalize gives none)
 */
public record RootCause(
    String scope, int layerIndex, String layerName, String cause, String suggestedFix) {
  public static final String LAYER = "layer";
  public static final String MODEL = "model";

  public RootCause {
    requireNonNull(scope, "scope is null");
    requireNonNull(layerName, "layerName is null");
    requireNonNull(cause, "cause is null");
    if (!scope.equals(LAYER) && !scope.equals(MODEL)) {
      throw new IllegalArgumentException("scope must be layer or model: " + scope);
    }
  }
}
