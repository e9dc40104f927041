package io.dlanalyze.analyzer.baselines;

import static io.dlanalyze.analyzer.Analyses.analyze;
import static io.dlanalyze.analyzer.Analyses.trace;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.synthetic.Fault;
import java.util.List;
import org.junit.jupiter.api.Test;

class KerasBaselinesTest {
  private static BaselineResult baseline(Report report, String name) {
    return report.baselines().stream().filter(b -> b.name().equals(name)).findFirst().orElseThrow();
  }

  /** 4 epochs of 10 steps; epoch-mean losses are given, the batch losses vary around them. */
  private static MemoryTrace epochs(
      double[] epochLoss, boolean withAccuracy, TraceMetadata metadata) {
    MemoryTrace.Builder b = MemoryTrace.builder().stepsPerEpoch(10).metadata(metadata);
    for (int e = 0; e < epochLoss.length; e++) {
      for (int i = 0; i < 10; i++) {
        long step = e * 10L + i;
        b.model(step, Phase.LOSS, epochLoss[e] + (i % 2 == 0 ? 0.01 : -0.01));
        if (withAccuracy) {
          b.model(step, Phase.ACCURACY, 0.1 * e);
        }
      }
    }
    return b.build();
  }

  @Test
  void allThree_inOrder() {
    assertThat(analyze(trace()).baselines())
        .extracting(BaselineResult::name)
        .containsExactly("terminate_on_nan", "early_stopping_loss", "early_stopping_accuracy");
  }

  @Test
  void terminateOnNaN_stopsAtTheFirstNanLoss_relativeToTheFirstFinding() {
    BaselineResult result = baseline(analyze(trace(Fault.nan(3, 420))), "terminate_on_nan");

    assertThat(result.status()).isEqualTo(BaselineResult.Status.STOPPED);
    assertThat(result.stopStep()).isEqualTo(420);
    assertThat(result.epoch()).isEqualTo(4);
    assertThat(result.batch()).isEqualTo(20);
    assertThat(result.stepsAfterFirstFinding()).isEqualTo(0L);
    assertThat(result.detail()).contains("NaN", "420");
  }

  @Test
  void healthyRun_noCallbackStops() {
    assertThat(analyze(trace()).baselines())
        .allMatch(b -> b.status() == BaselineResult.Status.NEVER);
  }

  @Test
  void earlyStoppingLoss_stopsAtTheEndOfTheFirstEpochThatDoesNotImprove() {
    Report report =
        analyze(
            epochs(new double[] {2.0, 1.5, 1.6, 1.0}, true, TraceMetadata.empty()),
            AnalysisOptions.defaults());

    BaselineResult result = baseline(report, "early_stopping_loss");
    assertThat(result.status()).isEqualTo(BaselineResult.Status.STOPPED);
    assertThat(result.stopStep()).isEqualTo(29);
    assertThat(result.epoch()).isEqualTo(2);
    assertThat(result.batch()).isEqualTo(9);
    assertThat(result.stepsAfterFirstFinding()).isNull();
  }

  @Test
  void earlyStoppingLoss_patienceTwo_toleratesOneBadEpoch() {
    AnalysisOptions options =
        AnalysisOptions.builder().set(Thresholds.EARLY_STOPPING_PATIENCE, 2).build();

    Report report =
        analyze(epochs(new double[] {2.0, 1.5, 1.6, 1.0}, true, TraceMetadata.empty()), options);

    assertThat(baseline(report, "early_stopping_loss").status())
        .isEqualTo(BaselineResult.Status.NEVER);
    assertThat(baseline(report, "early_stopping_loss").callback())
        .isEqualTo("EarlyStopping(monitor='loss', patience=2)");
  }

  @Test
  void earlyStoppingAccuracy_higherIsBetter() {
    Report report =
        analyze(
            epochs(new double[] {2.0, 1.5, 1.4, 1.3}, true, TraceMetadata.empty()),
            AnalysisOptions.defaults());

    assertThat(baseline(report, "early_stopping_accuracy").status())
        .isEqualTo(BaselineResult.Status.NEVER);
    assertThat(baseline(report, "early_stopping_loss").status())
        .isEqualTo(BaselineResult.Status.NEVER);
  }

  @Test
  void noAccuracyRows_accuracyBaselineNotApplicable() {
    Report report =
        analyze(
            epochs(new double[] {2.0, 1.5, 1.4, 1.3}, false, TraceMetadata.empty()),
            AnalysisOptions.defaults());

    assertThat(baseline(report, "early_stopping_accuracy").status())
        .isEqualTo(BaselineResult.Status.NOT_APPLICABLE);
  }

  @Test
  void incompleteLastEpoch_isNotJudged_whenStepsPerEpochSaysSo() {
    TraceMetadata metadata =
        TraceMetadata.of(java.util.Map.of(TraceMetadata.STEPS_PER_EPOCH, "20"));
    MemoryTrace.Builder b = MemoryTrace.builder().stepsPerEpoch(20).metadata(metadata);
    for (long s = 0; s < 30; s++) {
      b.model(s, Phase.LOSS, s < 20 ? 1.0 : 5.0);
    }

    Report report = analyze(b.build(), AnalysisOptions.defaults());

    assertThat(baseline(report, "early_stopping_loss").status())
        .isEqualTo(BaselineResult.Status.NEVER);
    assertThat(List.of(baseline(report, "terminate_on_nan").status()))
        .containsExactly(BaselineResult.Status.NEVER);
  }
}
