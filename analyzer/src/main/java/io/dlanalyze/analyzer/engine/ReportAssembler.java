package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.BaselineResult;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.EvidenceKeys;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.MetadataGaps;
import io.dlanalyze.analyzer.RecordedPhases;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.Timing;
import io.dlanalyze.analyzer.TraceSummary;
import io.dlanalyze.analyzer.Verdict;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Ranks findings, fills in what detectors left unset, and decides the verdict. */
final class ReportAssembler {
  /**
   * The metadata keys copied into the trace summary, in this order; {@code dltrace.source} and
   * {@code dltrace.source.granularity} say that a trace (or the trace it was converted from) was
   * read from TensorBoard event files, and at which granularity; {@code dltrace.record_mode} how
   * the recorder recorded (callback: a Keras model with its own train step); {@code
   * dltrace.loss_scaling} that the run scaled its loss (mixed precision); {@code
   * dltrace.loss_weighted} that its loss was class- or sample-weighted; the last two that the
   * recorder stopped the run early (a stop file), why and after which step.
   */
  static final List<String> SUMMARY_KEYS =
      List.of(
          TraceMetadata.VERSION,
          TraceMetadata.RUN_ID,
          TraceMetadata.MODEL,
          TraceMetadata.FRAMEWORK,
          TraceMetadata.OPTIMIZER,
          TraceMetadata.LEARNING_RATE,
          TraceMetadata.BATCH_SIZE,
          TraceMetadata.TASK,
          TraceMetadata.LOSS,
          TraceMetadata.STEPS_PER_EPOCH,
          TraceMetadata.NUM_CLASSES,
          TraceMetadata.SOURCE,
          TraceMetadata.SOURCE_GRANULARITY,
          TraceMetadata.RECORD_MODE,
          TraceMetadata.LOSS_SCALING,
          TraceMetadata.LOSS_WEIGHTED,
          TraceMetadata.LOSS_ADDED,
          TraceMetadata.OUTPUT_LAYER,
          TraceMetadata.UPDATES,
          TraceMetadata.CARRIED_UPDATES,
          "dltrace.stop_reason",
          "dltrace.stopped_at_step");

  /** What the engine learnt about the trace while reading it. */
  record TraceFacts(
      String path,
      String format,
      long rows,
      long steps,
      long firstStep,
      long lastStep,
      int epochs,
      List<Layer> layers,
      List<String> phases,
      TraceMetadata metadata,
      boolean truncated,
      long stoppedAtStep,
      List<String> warnings) {}

  private ReportAssembler() {}

  /**
   * Keeps at info the warnings of detectors that {@linkplain DetectorInfo#needsCorroboration() need
   * corroboration} when no other detector reported a warning: a risk factor with no harm beside it
   * does not make a run buggy. Only when a detector that could corroborate ran: an analysis limited
   * to such detectors ({@code --detectors input-range}) reports them as they are. An error of such
   * a detector carries its own harm and stays.
   */
  static void uncorroborated(List<Finding> findings, List<DetectorInfo> detectors) {
    Set<String> needing = new HashSet<>();
    boolean others = false;
    for (DetectorInfo info : detectors) {
      if (info.needsCorroboration()) {
        needing.add(info.id());
      } else {
        others = true;
      }
    }
    if (needing.isEmpty() || !others) {
      return;
    }
    for (Finding finding : findings) {
      if (finding.severity().atLeast(Severity.WARNING) && !needing.contains(finding.detector())) {
        return;
      }
    }
    for (int i = 0; i < findings.size(); i++) {
      Finding finding = findings.get(i);
      if (finding.severity() == Severity.WARNING) {
        findings.set(
            i,
            finding.withSeverity(
                Severity.INFO,
                "Kept at info: no other finding shows harm (dead, saturated or exploding units, a"
                    + " loss that does not fall), and the run is judged by its harms."));
      }
    }
  }

  static Report assemble(
      AnalysisOptions options,
      List<DetectorInfo> detectors,
      List<Finding> raw,
      List<BaselineResult> rawBaselines,
      AnalysisContext context,
      TraceFacts facts,
      Timing timing) {
    List<Finding> findings = new ArrayList<>(raw.size());
    for (Finding finding : raw) {
      findings.add(resolve(finding, context));
    }
    uncorroborated(findings, detectors);
    findings.sort(Finding.RANKING);
    Finding root = null;
    for (Finding finding : findings) {
      if (finding.severity().atLeast(Severity.WARNING)) {
        root = finding;
        break;
      }
    }
    long rootStep = root == null ? -1 : root.firstStep();
    List<BaselineResult> baselines = new ArrayList<>();
    for (BaselineResult baseline : rawBaselines) {
      baselines.add(baseline.relativeTo(rootStep));
    }
    Verdict verdict;
    String reason;
    int minSteps =
        options.mode() == AnalysisMode.DEEPLOCALIZE
            ? options.getInt(Thresholds.DL_WINDOW)
            : options.getInt(Thresholds.WINDOW);
    if (root != null) {
      long count = 0;
      for (Finding finding : findings) {
        if (finding.severity().atLeast(Severity.WARNING)) {
          count++;
        }
      }
      verdict = Verdict.BUGGY;
      reason =
          format(
              ROOT,
              "%d %s of severity warning or more; the first starts at step %d.",
              count,
              count == 1 ? "finding" : "findings",
              root.firstStep());
    } else if (facts.rows() == 0) {
      verdict = Verdict.INCONCLUSIVE;
      reason = "The trace has no rows.";
    } else if (facts.steps() < minSteps) {
      verdict = Verdict.INCONCLUSIVE;
      reason =
          format(
              ROOT,
              "Only %d steps were read; judging a run takes at least %d (%s).",
              facts.steps(),
              minSteps,
              options.mode() == AnalysisMode.DEEPLOCALIZE ? "dl-window" : "window");
    } else if (!facts.phases().contains("loss")
        && !facts.phases().contains("forward")
        && !facts.phases().contains("activation")) {
      verdict = Verdict.INCONCLUSIVE;
      reason = "The trace has neither loss nor forward/activation rows to judge the run by.";
    } else if (!weakEvidence(findings).isEmpty()) {
      verdict = Verdict.INCONCLUSIVE;
      reason = "Weak evidence, not judged: " + weakEvidence(findings) + ".";
    } else {
      verdict = Verdict.HEALTHY;
      Set<Phase> leftOut = RecordedPhases.leftOut(facts.metadata());
      List<String> names = new ArrayList<>();
      for (Phase phase : leftOut) {
        names.add(phase.wireName());
      }
      reason =
          format(
              ROOT,
              "No finding of severity warning or more in %d steps%s.",
              facts.steps(),
              names.isEmpty()
                  ? ""
                  : ", judged on the recorded phases only (the recorder left out "
                      + String.join(", ", names)
                      + "; see the warnings)");
    }
    RootCause rootCause =
        root == null
            ? null
            : options.mode() == AnalysisMode.DEFAULT
                ? RootCauseAnalysis.analyze(findings, context)
                : RootCauseSelector.select(root, options.mode());
    Map<String, String> metadata = new LinkedHashMap<>();
    for (String key : SUMMARY_KEYS) {
      facts.metadata().get(key).ifPresent(value -> metadata.put(key, value));
    }
    List<String> ids = new ArrayList<>();
    for (DetectorInfo info : detectors) {
      ids.add(info.id());
    }
    List<String> warnings = new ArrayList<>(facts.warnings());
    warnings.addAll(RecordedPhases.notes(facts.metadata(), ids));
    if (options.mode() == AnalysisMode.DEFAULT) {
      warnings.addAll(MetadataGaps.notes(facts.metadata(), context.numClasses().isPresent()));
    }
    TraceSummary summary =
        new TraceSummary(
            facts.path(),
            facts.format(),
            facts.rows(),
            facts.steps(),
            facts.firstStep(),
            facts.lastStep(),
            facts.epochs(),
            facts.layers(),
            facts.phases(),
            metadata,
            facts.truncated(),
            facts.stoppedAtStep(),
            warnings);
    return new Report(
        Report.VERSION,
        options.mode(),
        verdict,
        reason,
        rootCause,
        findings,
        baselines,
        summary,
        options.effectiveThresholds(),
        ids,
        timing);
  }

  /**
   * The reasons of findings that a detector marked inconclusive (evidence {@code inconclusive}):
   * its rule matched, but the data to confirm it was missing.
   */
  private static String weakEvidence(List<Finding> findings) {
    StringBuilder reasons = new StringBuilder();
    for (Finding finding : findings) {
      String why = finding.evidence().get(EvidenceKeys.INCONCLUSIVE);
      if (why != null) {
        reasons
            .append(reasons.length() == 0 ? "" : "; ")
            .append(finding.detector())
            .append(" on ")
            .append(finding.layerName())
            .append(": ")
            .append(why);
      }
    }
    return reasons.toString();
  }

  static Finding resolve(Finding finding, AnalysisContext context) {
    Layer layer = context.layer(finding.layerIndex());
    String name = finding.layerName() != null ? finding.layerName() : layer.name();
    String type = finding.layerType() != null ? finding.layerType() : layer.type();
    int epoch = finding.epoch() >= 0 ? finding.epoch() : context.epochOf(finding.firstStep());
    int batch = finding.batch() >= 0 ? finding.batch() : context.batchOf(finding.firstStep());
    return finding.withResolved(name, type, epoch, batch);
  }
}
