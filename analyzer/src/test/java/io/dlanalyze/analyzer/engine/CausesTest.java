package io.dlanalyze.analyzer.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys;
import io.dlanalyze.analyzer.EvidenceKeys.Direction;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.trace.Phase;
import org.junit.jupiter.api.Test;

class CausesTest {
  private final Causes causes = new Causes(AnalysisOptions.defaults());

  private static Finding.Builder effectiveLearningRate() {
    return Finding.builder(
            DetectorIds.EFFECTIVE_LEARNING_RATE, Symptom.SLOW_CONVERGENCE, Severity.WARNING)
        .at(-1, Phase.LEARNING_RATE)
        .steps(15, 119, 105);
  }

  @Test
  void effectiveLearningRate_collapseRule_hasNoBandClause_soItsMessageIsQuoted() {
    // a schedule that took the rate to 0: no band run, no learning rate, no run length
    Finding collapse =
        effectiveLearningRate()
            .evidence(
                Evidence.builder()
                    .put(EvidenceKeys.DIRECTION, Direction.LOW)
                    .put(EvidenceKeys.PEAK_LEARNING_RATE, 0.003)
                    .put(EvidenceKeys.COLLAPSED_SHARE, 0.875)
                    .build())
            .message("The learning rate fell from its peak of 0.003 (step 0) to 0 by step 15.")
            .build();

    assertThat(causes.of(collapse)).isNull();
  }

  @Test
  void effectiveLearningRate_bandRule_getsItsClause() {
    Finding band =
        effectiveLearningRate()
            .at(1, Phase.GRADIENT)
            .evidence(
                Evidence.builder()
                    .put(EvidenceKeys.DIRECTION, Direction.LOW)
                    .put(EvidenceKeys.LEARNING_RATE, 1e-4)
                    .put(EvidenceKeys.BAND_LOW, 1e-5)
                    .put(EvidenceKeys.BAND_HIGH, 0.1)
                    .put(EvidenceKeys.RUN_STEPS, 105L)
                    .put(EvidenceKeys.EFFECTIVE_LR, 2e-6)
                    .put(EvidenceKeys.LAYERS_OUT_OF_BAND, 1L)
                    .build())
            .message("The effective learning rate of fc1 stayed below 1e-05.")
            .build();

    assertThat(causes.of(band))
        .startsWith("the effective learning rate of ")
        .contains("stayed below 1e-05 for 105 steps from step 15 (typically 2e-06)");
  }

  private static Finding.Builder notConverging(Phase phase) {
    return Finding.builder(DetectorIds.NOT_CONVERGING, Symptom.NOT_LEARNING, Severity.ERROR)
        .at(-1, phase)
        .steps(0, 1927, 50)
        .message("Over 50 epochs ...");
  }

  @Test
  void notConverging_accuracyFellRule_hasNoChanceClause_soItsMessageIsQuoted() {
    Finding fell =
        notConverging(Phase.ACCURACY)
            .evidence(
                Evidence.builder()
                    .put(
                        EvidenceKeys.CONVERGENCE_RULE,
                        EvidenceKeys.ConvergenceRule.ACCURACY_FELL_AS_LOSS_FELL)
                    .put(EvidenceKeys.FIRST_EPOCH_ACCURACY, 0.52)
                    .put(EvidenceKeys.LAST_EPOCH_ACCURACY, 0.28)
                    .put(EvidenceKeys.FIRST_EPOCH_LOSS, 2.1)
                    .put(EvidenceKeys.LAST_EPOCH_LOSS, 0.4)
                    .put(EvidenceKeys.EPOCHS, 50L)
                    .build())
            .build();

    assertThat(causes.of(fell)).isNull();
  }

  @Test
  void notConverging_chanceRule_namesTheValidationAccuracyWhenItJudgedThat() {
    Evidence chance =
        Evidence.builder()
            .put(EvidenceKeys.CONVERGENCE_RULE, EvidenceKeys.ConvergenceRule.ACCURACY_AT_CHANCE)
            .put(EvidenceKeys.BEST_EPOCH_ACCURACY, 0.11)
            .put(EvidenceKeys.BEST_EPOCH, 3L)
            .put(EvidenceKeys.CHANCE, 0.1)
            .put(EvidenceKeys.BAR, 0.15)
            .put(EvidenceKeys.EPOCHS, 8L)
            .build();

    assertThat(causes.of(notConverging(Phase.VAL_ACCURACY).evidence(chance).build()))
        .isEqualTo(
            "over 8 epochs the validation accuracy never exceeded 0.15 (best 0.11 in epoch 3),"
                + " against a chance level of 0.1");
    assertThat(causes.of(notConverging(Phase.ACCURACY).evidence(chance).build()))
        .startsWith("over 8 epochs the mean accuracy never exceeded 0.15");
  }
}
