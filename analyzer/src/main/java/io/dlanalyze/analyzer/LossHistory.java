package io.dlanalyze.analyzer;

/**
 * The model-level loss and accuracy of the run so far, kept per step and per epoch by the engine
 * (read it from {@link AnalysisContext#lossHistory()}). The engine records a step before any
 * detector sees it, so during {@link Detector#observe} the history already holds the current step.
 * Gates of the symptom detectors read it: a symptom that shows up while the loss falls steadily is
 * usually benign (docs/references.md#false-alarm-sources: condition on the loss trend, not only the
 * ratio).
 *
 * <p>Only finite losses are kept (indexed 0 to {@link #size()} - 1, in step order); the first
 * non-finite one is remembered by its step. Epochs count only steps with a loss or accuracy row.
 */
public interface LossHistory {
  /** Number of finite losses recorded. */
  int size();

  /** The step of the finite loss at {@code index}. */
  long step(int index);

  /** The finite loss at {@code index}. */
  double loss(int index);

  /** The first step whose loss was NaN or Inf, or -1. */
  long firstNonFiniteStep();

  /** The index of the first finite loss at or after {@code step}, or {@link #size()}. */
  int indexAtOrAfter(long step);

  /** The mean of the finite losses with index in [from, to), or NaN when empty. */
  double mean(int from, int to);

  /**
   * The lowest mean over consecutive blocks of {@code window} losses (a shorter last block too).
   */
  double bestBlockMean(int window);

  /** The mean of the first {@code window} losses (fewer when there are fewer), or NaN. */
  double firstBlockMean(int window);

  /**
   * True when the run made real progress: the best block mean is at least {@code drop} times the
   * first block mean's absolute value below it (a loss below zero must fall too). Needs two blocks;
   * false otherwise.
   */
  boolean learned(int window, double drop);

  /** True when there are at least two blocks of losses to judge progress by. */
  boolean judgeable(int window);

  /**
   * True when the loss did not improve around a stretch of steps: the mean over the {@code window}
   * losses ending at {@code step} is not {@code minImprovement} times the absolute value of the
   * mean over the {@code window} losses before them below that mean, or the loss already went
   * non-finite by then.
   */
  boolean stalledAt(long step, int window, double minImprovement);

  /** Number of epochs with at least one loss or accuracy row. */
  int epochs();

  /** The epoch value of the {@code i}-th epoch (0-based, in order of appearance). */
  int epoch(int i);

  /** The first step of the {@code i}-th epoch. */
  long epochFirstStep(int i);

  /** The {@code i}-th epoch's mean finite loss, or NaN. */
  double epochLoss(int i);

  /** The {@code i}-th epoch's mean finite accuracy, or NaN when it has none. */
  double epochAccuracy(int i);

  /** True when some epoch has an accuracy. */
  boolean hasAccuracy();

  /**
   * The largest finite, positive {@code learning_rate} row so far (a schedule's peak, which a
   * warm-up reaches only after the first step that {@code dltrace.learning_rate} records), or NaN
   * when the trace has none.
   */
  double peakLearningRate();

  /**
   * The rate of the last {@code learning_rate} row at or before {@code step}, or NaN when there is
   * none (no row yet, or a trace without learning-rate rows).
   */
  double learningRateAt(long step);
}
