package io.dlanalyze.analyzer;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Phase;

/**
 * Another place a finding's symptom showed up, listed as its consequence (a NaN born in one layer
 * that spread to this one).
 *
 * @param layerIndex the layer, or -1 for a model-level stream
 * @param layerName the layer's name ({@code "model"} for model-level streams)
 * @param phase where
 * @param firstStep the first step it showed there
 * @param occurrences in how many steps it showed there
 */
public record Consequence(
    int layerIndex, String layerName, Phase phase, long firstStep, long occurrences) {
  public Consequence {
    requireNonNull(layerName, "layerName is null");
    requireNonNull(phase, "phase is null");
  }
}
