package io.dlanalyze.analyzer;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What a run's loss function expects, read from {@code dltrace.loss} (PyTorch class or function
 * names, Keras names), {@code dltrace.framework} and {@code dltrace.loss_from_logits}. Every known
 * kind is at least 0 for the inputs it is defined on, so a negative value means it got inputs it
 * was not made for. A Keras categorical name in a run of another framework (a port that kept the
 * Keras name) is {@link #UNKNOWN}: what the function expects is not known.
 */
public enum LossFunction {
  /** Softmax cross-entropy on raw scores: PyTorch's CrossEntropyLoss, Keras with from_logits. */
  CROSS_ENTROPY_ON_LOGITS(false, true),
  /** Cross-entropy on probabilities: Keras' categorical losses without from_logits. */
  CROSS_ENTROPY_ON_PROBABILITIES(false, false),
  /** Negative log-likelihood on log-probabilities: PyTorch's NLLLoss (after log_softmax). */
  NLL_ON_LOG_PROBABILITIES(false, false),
  /** Binary cross-entropy on probabilities: PyTorch's BCELoss, Keras without from_logits. */
  BINARY_ON_PROBABILITIES(true, false),
  /** Binary cross-entropy on raw scores: BCEWithLogitsLoss, Keras with from_logits. */
  BINARY_ON_LOGITS(true, true),
  /** Mean squared error. */
  SQUARED_ERROR(false, false),
  /** Mean absolute error, Huber, smooth L1. */
  ABSOLUTE_ERROR(false, false),
  /** Named but none of the above, or not named: no rule applies. */
  UNKNOWN(false, false);

  private final boolean binary;
  private final boolean logits;

  LossFunction(boolean binary, boolean logits) {
    this.binary = binary;
    this.logits = logits;
  }

  /** True for the binary cross-entropies, which need targets in [0, 1]. */
  public boolean binary() {
    return binary;
  }

  /** True when the loss applies softmax or sigmoid itself (it takes raw scores). */
  public boolean takesLogits() {
    return logits;
  }

  /** True for the cross-entropies (categorical or binary) and NLL. */
  public boolean crossEntropy() {
    return this == CROSS_ENTROPY_ON_LOGITS
        || this == CROSS_ENTROPY_ON_PROBABILITIES
        || this == NLL_ON_LOG_PROBABILITIES
        || binary;
  }

  /** True for the regression losses. */
  public boolean regression() {
    return this == SQUARED_ERROR || this == ABSOLUTE_ERROR;
  }

  /**
   * True for a contrastive cross-entropy over similarities (NT-Xent of SimCLR, InfoNCE, supervised
   * contrastive; {@code dltrace.loss} as the program names it): a softmax over cosine similarities
   * divided by a temperature, whose logits are bounded by 1/temperature, so its floor, about log(1
   * + (2N - 2) e^(-1/temperature)) for 2N views whose negatives end near orthogonal, sits far above
   * 0 (3.6 against a start of log 255 = 5.5 for a batch of 128 at temperature 0.5). How far a
   * healthy run can fall depends on the batch and the temperature, not on whether it learns.
   */
  public static boolean similarityCrossEntropy(TraceMetadata metadata) {
    String n = squeezed(metadata.loss().orElse(""));
    return n.contains("ntxent")
        || n.contains("infonce")
        || n.contains("supcon")
        || n.contains("supervisedcontrastive");
  }

  /**
   * True for a self-supervised joint-embedding objective, by the loss's or the model's name: BYOL,
   * SimSiam, VICReg, Barlow Twins, SwAV, SimCLR's NT-Xent or InfoNCE, W-MSE, DINO, MoCo, NNCLR.
   * Each keeps a floor while it learns (its negatives, its variance or whitening term, its balanced
   * assignments); a loss that falls to nothing has found the trivial solution.
   */
  public static boolean jointEmbedding(TraceMetadata metadata) {
    return JOINT_EMBEDDING.matcher(squeezed(metadata.loss().orElse(""))).find()
        || JOINT_EMBEDDING.matcher(squeezed(metadata.model().orElse(""))).find();
  }

  private static final Pattern JOINT_EMBEDDING =
      Pattern.compile("byol|simsiam|vicreg|barlow|swav|simclr|ntxent|infonce|wmse|dino|moco|nnclr");

  /**
   * True for a squared or absolute error: a name {@link #of} knows as one, or one the program gave
   * such an error with terms of its own ({@code penalized_mse}, {@code masked_mse}, {@code
   * weighted_mae}: a word {@code mse}, {@code mae} or {@code huber}); a logarithmic error ({@code
   * msle}, a word {@code log}) is not one.
   */
  public static boolean namedError(TraceMetadata metadata) {
    if (of(metadata).regression()) {
      return true;
    }
    List<String> words = List.of(metadata.loss().orElse("").toLowerCase(ROOT).split("[^a-z0-9]+"));
    return !words.contains("log")
        && (words.contains("mse") || words.contains("mae") || words.contains("huber"));
  }

  /**
   * A name in lower case without its separators: {@code "NT-Xent loss"} is {@code "ntxentloss"}.
   */
  private static String squeezed(String name) {
    return name.toLowerCase(ROOT).replaceAll("[^a-z0-9]", "");
  }

  /**
   * How far a first block's mean may lie from a whole multiple of a uniform guess's loss, in units
   * of that loss, and still count as that multiple; and the largest multiple that counts. Healthy
   * dev runs of a single cross-entropy start with their first block's mean at 0.93 to 1.01 times a
   * uniform guess's loss (the middle half); SASRec's, which sum two binary cross-entropies, at 1.99
   * to 2.02 times it.
   */
  public static final double GUESS_MULTIPLE_TOLERANCE = 0.03;

  public static final int MAX_GUESS_MULTIPLE = 4;

  /**
   * The whole number k of uniform guesses' losses that {@code start} (a first block's mean) is,
   * within {@link #GUESS_MULTIPLE_TOLERANCE}, up to {@link #MAX_GUESS_MULTIPLE}; 0 when it is none
   * or {@code uniform} is unknown. A k of 2 or more says the loss adds up k cross-entropies (a
   * positive and a sampled negative binary cross-entropy, several heads), each starting at a
   * uniform guess's loss.
   */
  public static int uniformGuesses(double start, double uniform) {
    if (!(uniform > 0) || !(start > 0)) {
      return 0;
    }
    double ratio = start / uniform;
    long k = Math.round(ratio);
    return k >= 1 && k <= MAX_GUESS_MULTIPLE && Math.abs(ratio - k) <= GUESS_MULTIPLE_TOLERANCE
        ? (int) k
        : 0;
  }

  /** The kind of a run's loss, from its metadata. */
  public static LossFunction of(TraceMetadata metadata) {
    String name = metadata.loss().orElse(null);
    if (name == null || name.isBlank()) {
      return UNKNOWN;
    }
    String framework = metadata.framework().orElse("").toLowerCase(ROOT);
    boolean keras = framework.contains("keras") || framework.contains("tensorflow");
    boolean torch = framework.contains("torch") || framework.contains("lightning");
    String n = squeezed(name);
    if (n.endsWith("loss")) {
      n = n.substring(0, n.length() - 4);
    }
    Boolean fromLogits = metadata.lossFromLogits().orElse(null);
    switch (n) {
      case "crossentropy", "ce" -> {
        // PyTorch's CrossEntropyLoss takes logits; Keras' has no plain "crossentropy" name. In
        // another framework (a synthetic trace's softmax model) only from_logits tells.
        if (torch) {
          return CROSS_ENTROPY_ON_LOGITS;
        }
        if (!keras && fromLogits == null) {
          return UNKNOWN;
        }
        return Boolean.TRUE.equals(fromLogits)
            ? CROSS_ENTROPY_ON_LOGITS
            : CROSS_ENTROPY_ON_PROBABILITIES;
      }
      case "categoricalcrossentropy",
          "sparsecategoricalcrossentropy",
          "categoricalfocalcrossentropy" -> {
        // Keras' names, whose string losses default to from_logits=False. Written by another
        // framework's run, the name says nothing about what the function expects.
        if (!keras && fromLogits == null) {
          return UNKNOWN;
        }
        return Boolean.TRUE.equals(fromLogits)
            ? CROSS_ENTROPY_ON_LOGITS
            : CROSS_ENTROPY_ON_PROBABILITIES;
      }
      case "nll" -> {
        // PyTorch's NLLLoss (or F.nll_loss) is a classifier's loss on log-probabilities. A bare
        // "negative log-likelihood" is one only with classes to choose from: a density's (a
        // normalizing flow, a Gaussian or mixture head) goes below 0 as it fits.
        return squeezed(name).equals("nllloss") || metadata.numClasses().isPresent()
            ? NLL_ON_LOG_PROBABILITIES
            : UNKNOWN;
      }
      case "bce", "binarycrossentropy", "binaryfocalcrossentropy" -> {
        // BCELoss and F.binary_cross_entropy take probabilities; so does Keras' default.
        return Boolean.TRUE.equals(fromLogits) ? BINARY_ON_LOGITS : BINARY_ON_PROBABILITIES;
      }
      case "bcewithlogits", "binarycrossentropywithlogits" -> {
        return BINARY_ON_LOGITS;
      }
      case "mse", "meansquarederror", "l2" -> {
        return SQUARED_ERROR;
      }
      case "mae", "l1", "meanabsoluteerror", "huber", "smoothl1" -> {
        return ABSOLUTE_ERROR;
      }
      default -> {
        return UNKNOWN;
      }
    }
  }
}
