package io.dlanalyze.analyzer.text;

import io.dlanalyze.trace.Phase;
import java.util.Set;

/** Words for report sentences, shared by detectors and renderers. */
public final class Phrases {
  private static final Set<String> SENTENCE_STARTS =
      java.util.Set.of(
          "The",
          "A",
          "An",
          "Over",
          "Every",
          "No",
          "Its",
          "Values",
          "Numerical",
          "Weights",
          "All",
          "Loss",
          "Inputs",
          "Targets");

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
      case EPISODE_RETURN -> "episode return";
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

  /**
   * The sentence with its first word in lower case when that word is an ordinary English word this
   * project starts sentences with ("The", "Over", "Every"...), so it can follow a colon; a layer
   * name or an acronym at the start is kept as it is.
   */
  public static String uncapitalize(String sentence) {
    int space = sentence.indexOf(' ');
    String word = space < 0 ? sentence : sentence.substring(0, space);
    return SENTENCE_STARTS.contains(word)
        ? Character.toLowerCase(sentence.charAt(0)) + sentence.substring(1)
        : sentence;
  }

  /** "1 step", "2 steps". */
  public static String count(long n, String singular, String plural) {
    return n + " " + (n == 1 ? singular : plural);
  }
}
