package io.dlanalyze.analyzer.engine;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.AnalysisListener;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The findings an analysis hands its {@link AnalysisListener} while it reads ({@code dl-analyze
 * watch}), step by step, as they become conclusive.
 *
 * <p>A detector that counts its conclusive findings ({@link Detector#conclusive()}) is asked on the
 * instance that makes the report, each time its count grows; a finding is announced when its layer,
 * phase and severity were not announced before (a raised severity is announced again). A detector
 * that only says when it fired ({@link Detector#fired()}) runs a second time, beside the one that
 * reports, and that second instance is asked once, the step it fires, then dropped: its {@link
 * Detector#finish} may change its state. The others report at the end of the run only.
 */
final class LiveFindings {
  /** Keeps the findings a run's options do not exclude (and counts them in the report once). */
  interface Exclusions {
    List<Finding> kept(String detectorId, List<Finding> findings);
  }

  /** A detector that counts its conclusive findings, and what was announced of it so far. */
  private static final class Counted {
    final String id;
    final Detector detector;
    final Set<Announced> announced = new HashSet<>();
    int count;

    Counted(String id, Detector detector) {
      this.id = id;
      this.detector = detector;
    }
  }

  private record Announced(int layer, Phase phase, Severity severity) {}

  private final AnalysisListener listener;
  private final Exclusions exclusions;
  private final List<Counted> counted = new ArrayList<>();
  private final List<Detector> second = new ArrayList<>();
  private final List<String> secondIds = new ArrayList<>();

  LiveFindings(AnalysisListener listener, Exclusions exclusions) {
    this.listener = listener;
    this.exclusions = exclusions;
  }

  /**
   * Follows one detector: {@code detector} is the instance that makes the report, {@code twin} a
   * fresh one of the same kind (used only when the detector cannot count its findings).
   */
  void add(String id, Detector detector, Detector twin) {
    if (overrides(detector, "conclusive")) {
      counted.add(new Counted(id, detector));
    } else if (overrides(detector, "fired")) {
      second.add(twin);
      secondIds.add(id);
    }
  }

  /** The second instances, which the engine begins and feeds like the others. */
  List<Detector> twins() {
    return second;
  }

  /** True when the detector's class overrides the {@link Detector} method of that name. */
  private static boolean overrides(Detector detector, String method) {
    try {
      return detector.getClass().getMethod(method).getDeclaringClass() != Detector.class;
    } catch (NoSuchMethodException e) {
      return false;
    }
  }

  /**
   * After every detector observed {@code step}: feeds the second instances, then hands the listener
   * what is new, one call per detector with findings to announce.
   */
  void stepCompleted(StepView step, AnalysisContext context) {
    for (Counted detector : counted) {
      int count = detector.detector.conclusive();
      if (count <= detector.count) {
        continue;
      }
      detector.count = count;
      List<Finding> found = new ArrayList<>();
      for (Finding finding :
          exclusions.kept(detector.id, detector.detector.conclusiveFindings(context))) {
        if (detector.announced.add(
            new Announced(finding.layerIndex(), finding.phase(), finding.severity()))) {
          found.add(ReportAssembler.resolve(finding, context));
        }
      }
      if (!found.isEmpty()) {
        listener.findings(step.step(), found);
      }
    }
    for (int i = 0; i < second.size(); i++) {
      Detector detector = second.get(i);
      detector.observe(step);
      if (detector.fired()) {
        List<Finding> found = new ArrayList<>();
        for (Finding finding : exclusions.kept(secondIds.get(i), detector.finish(context))) {
          found.add(ReportAssembler.resolve(finding, context));
        }
        second.remove(i);
        secondIds.remove(i);
        i--;
        if (!found.isEmpty()) {
          listener.findings(step.step(), found);
        }
      }
    }
  }
}
