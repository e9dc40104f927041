package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Traces whose recorder left phases out on purpose ({@code dltrace.record_phases}), as the Keras
 * recorder's callback mode does for a model with its own train step: no false alarm from the
 * missing rows, the faults the recorded rows show are still found, and the report says which rows
 * were not recorded and which detectors therefore did not run.
 */
class RecordedPhasesTest {
  private static final String CALLBACK_PHASES =
      "loss,accuracy,weight,learning_rate,val_loss,val_accuracy";

  /** The synthetic trace reduced to what callback mode records, with its metadata. */
  private static MemoryTrace callbackMode(SyntheticTrace trace) {
    MemoryTrace all = MemoryTrace.of(trace);
    Set<String> kept = Set.of(CALLBACK_PHASES.split(","));
    List<MemoryTrace.Row> rows = new ArrayList<>();
    for (MemoryTrace.Row row : all.rows()) {
      if (kept.contains(row.phase())) {
        rows.add(row);
      }
    }
    TraceMetadata metadata =
        all.metadata()
            .with(TraceMetadata.RECORD_PHASES, CALLBACK_PHASES)
            .with(TraceMetadata.RECORD_MODE, "callback");
    return MemoryTrace.of(metadata, rows);
  }

  @Test
  void everyBuiltInDetector_saysWhichPhasesItReads() {
    for (DetectorInfo info : BuiltInDetectors.all()) {
      assertThat(RecordedPhases.READS).as(info.id()).containsKey(info.id());
    }
  }

  @Test
  void callbackModeTrace_healthyRun_healthyOnWhatWasRecordedAndSaysWhatWasNot() {
    Report report = Analyses.analyze(callbackMode(Analyses.trace()), AnalysisOptions.defaults());

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    assertThat(report.findings()).filteredOn(f -> f.severity().atLeast(Severity.WARNING)).isEmpty();
    assertThat(report.verdictReason())
        .isEqualTo(
            "No finding of severity warning or more in 1000 steps, judged on the recorded phases"
                + " only (the recorder left out forward, activation, backward, gradient, input,"
                + " target; see the warnings).");
    assertThat(report.trace().warnings())
        .containsExactly(
            "not recorded: forward, activation, backward, gradient, input and target rows (the"
                + " recorder recorded only loss, accuracy, weight, learning_rate, val_loss,"
                + " val_accuracy: dltrace.record_phases; dltrace.record_mode callback: a model"
                + " with its own train step, read from a callback at each batch end):"
                + " dead-or-zero, exploding-gradient, vanishing-gradient, dying-relu, saturation,"
                + " effective-learning-rate, input-range, target-range and gradient-accumulation"
                + " did not run, and the verdict says nothing about what they check",
            "numerical-error, unchanged-values, not-converging, loss-definition and layer-mode"
                + " judged only the recorded phases (not recorded: forward, activation,"
                + " backward, gradient, input, target)");
    assertThat(report.trace().metadata()).containsEntry("dltrace.record_mode", "callback");
  }

  @Test
  void callbackModeTrace_faultsInTheWeightsAndTheLoss_stillFound() {
    Report nan =
        Analyses.analyze(
            callbackMode(Analyses.trace(Fault.nan(3, 420))), AnalysisOptions.defaults());
    Report frozen =
        Analyses.analyze(
            callbackMode(Analyses.trace(Fault.frozenWeights(2, 300))), AnalysisOptions.defaults());

    assertThat(nan.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(nan.topFinding().orElseThrow().detector()).isEqualTo(DetectorIds.NUMERICAL_ERROR);
    assertThat(nan.topFinding().orElseThrow().phase()).isEqualTo(Phase.WEIGHT);
    assertThat(nan.topFinding().orElseThrow().firstStep()).isEqualTo(420);
    assertThat(frozen.verdict()).isEqualTo(Verdict.BUGGY);
    assertThat(frozen.topFinding().orElseThrow().detector())
        .isEqualTo(DetectorIds.UNCHANGED_VALUES);
    assertThat(frozen.topFinding().orElseThrow().layerName()).isEqualTo("fc2");
    // a buggy verdict keeps its reason; the warnings still say what was not recorded
    assertThat(nan.verdictReason()).doesNotContain("recorded phases");
    assertThat(nan.trace().warnings()).anyMatch(w -> w.startsWith("not recorded: forward,"));
  }

  @Test
  void callbackModeTrace_everySyntheticFault_noFindingFromAPhaseThatIsNotThere() {
    Set<Phase> absent =
        EnumSet.of(
            Phase.FORWARD,
            Phase.ACTIVATION,
            Phase.BACKWARD,
            Phase.GRADIENT,
            Phase.INPUT,
            Phase.TARGET);
    Fault[] faults = {
      Fault.nan(3, 420),
      Fault.inf(3, 420),
      Fault.deadLayer(2, 300),
      Fault.frozenWeights(2, 300),
      Fault.lossPlateau(300),
      Fault.explodingGradient(300, 1.5),
      Fault.vanishingGradient(0, 0.1)
    };
    for (Fault fault : faults) {
      Report report =
          Analyses.analyze(callbackMode(Analyses.trace(fault)), AnalysisOptions.defaults());
      for (Finding finding : report.findings()) {
        assertThat(absent).as("%s: %s", fault, finding.message()).doesNotContain(finding.phase());
      }
    }
  }

  @Test
  void phasesOption_onlyTheDetectorsThatRanAreNamed() {
    SyntheticTrace trace = Analyses.trace();
    TraceMetadata metadata =
        trace.metadata().with(TraceMetadata.RECORD_PHASES, "forward,activation,loss,weight");
    AnalysisOptions options =
        AnalysisOptions.builder().disable(DetectorIds.EXPLODING_GRADIENT).build();

    Report report = Analyses.analyze(MemoryTrace.of(trace).withMetadata(metadata), options);

    assertThat(report.trace().warnings().get(0))
        .startsWith(
            "not recorded: accuracy, backward, gradient, input, target, learning_rate, val_loss"
                + " and val_accuracy rows (the recorder recorded only forward, activation, loss,"
                + " weight: dltrace.record_phases): vanishing-gradient, effective-learning-rate,")
        .doesNotContain("exploding-gradient")
        .doesNotContain("record_mode");
  }

  @Test
  void recordPhases_absentEmptyOrUnknown_saysNothing() {
    for (String value : new String[] {null, "", "grad_norm, ,"}) {
      TraceMetadata metadata =
          value == null
              ? TraceMetadata.empty()
              : TraceMetadata.empty().with(TraceMetadata.RECORD_PHASES, value);
      assertThat(RecordedPhases.leftOut(metadata)).as(value).isEmpty();
      assertThat(RecordedPhases.notes(metadata, List.of(DetectorIds.DYING_RELU))).isEmpty();
    }
    TraceMetadata all =
        TraceMetadata.empty()
            .with(
                TraceMetadata.RECORD_PHASES,
                "input,target,forward,activation,loss,accuracy,backward,gradient,weight,"
                    + "learning_rate,val_loss,val_accuracy");
    assertThat(RecordedPhases.notes(all, List.of(DetectorIds.DYING_RELU))).isEmpty();
  }
}
