package io.dlanalyze.analyzer.text;

import io.dlanalyze.trace.Phase;

/** Words for report sentences, shared by detectors and renderers. */
public final class Phrases {
  private Phrases() {}

  /** What a phase's tensor is called in a sentence: "forward pass", "weight gradients"... */
  public static String of(Phase phase) {
    return switch (phase) {
      case FORWARD -> "forward pass";
      case ACTIVATION -> "activations";
      case LOSS -> "loss";
      case ACCURACY -> "accuracy";
      case BACKWARD -> "output gradients";
      case GRADIENT -> "weight gradients";
      case WEIGHT -> "weights";
      case INPUT -> "input batch";
      case TARGET -> "targets";
      case LEARNING_RATE -> "learning rate";
      case VAL_LOSS -> "validation loss";
      case VAL_ACCURACY -> "validation accuracy";
    };
  }

  /** "fc3's forward pass", or "the loss" for model-level phases. */
  public static String where(String layerName, int layerIndex, Phase phase) {
    return layerIndex < 0 ? "the " + of(phase) : layerName + "'s " + of(phase);
  }

  /** {@link #where} at the start of a sentence: "The loss", but "fc3's forward pass" as named. */
  public static String subject(String layerName, int layerIndex, Phase phase) {
    return layerIndex < 0 ? "The " + of(phase) : layerName + "'s " + of(phase);
  }

  /** The text with its first letter in upper case. */
  public static String capitalize(String text) {
    return text.isEmpty() ? text : Character.toUpperCase(text.charAt(0)) + text.substring(1);
  }

  /** "1 step", "2 steps". */
  public static String count(long n, String singular, String plural) {
    return n + " " + (n == 1 ? singular : plural);
  }
}
