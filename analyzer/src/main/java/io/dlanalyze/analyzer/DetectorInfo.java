package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.util.function.Supplier;

/**
 * A registered detector: its {@link DetectorSpec} metadata plus a factory that makes a fresh,
 * stateful instance for each analysis.
 *
 * @param id stable kebab-case id
 * @param symptom the symptom class of its findings
 * @param severity the default severity of its findings
 * @param summary one line, sentence case, no final period
 * @param source where the rule comes from
 * @param modes the modes the detector runs in
 * @param factory makes a new instance per analysis
 */
public record DetectorInfo(
    String id,
    Symptom symptom,
    Severity severity,
    String summary,
    String source,
    java.util.Set<AnalysisMode> modes,
    Supplier<? extends Detector> factory) {
  public DetectorInfo {
    requireNonNull(id, "id is null");
    requireNonNull(symptom, "symptom is null");
    requireNonNull(severity, "severity is null");
    requireNonNull(summary, "summary is null");
    requireNonNull(source, "source is null");
    requireNonNull(factory, "factory is null");
    modes = java.util.Set.copyOf(modes);
    if (!DetectorSpec.ID_PATTERN.matcher(id).matches()) {
      throw new IllegalArgumentException(format(ROOT, "detector id must be kebab-case: %s", id));
    }
  }

  /**
   * Reads the {@link DetectorSpec} of {@code type}.
   *
   * @throws IllegalArgumentException when the class has no {@code @DetectorSpec}
   */
  public static <D extends Detector> DetectorInfo of(
      Class<D> type, Supplier<D> factory, AnalysisMode mode, AnalysisMode... moreModes) {
    DetectorSpec spec = type.getAnnotation(DetectorSpec.class);
    if (spec == null) {
      throw new IllegalArgumentException(
          format(ROOT, "%s has no @DetectorSpec annotation", type.getName()));
    }
    java.util.EnumSet<AnalysisMode> modes = java.util.EnumSet.of(mode, moreModes);
    return new DetectorInfo(
        spec.id(), spec.symptom(), spec.severity(), spec.summary(), spec.source(), modes, factory);
  }

  /**
   * The thresholds the detector reads, from its class's {@link DetectorSpec#thresholds()}; empty
   * for detectors that declare none.
   */
  public java.util.List<Threshold> thresholds() {
    DetectorSpec spec = create().getClass().getAnnotation(DetectorSpec.class);
    java.util.List<Threshold> list = new java.util.ArrayList<>();
    if (spec != null) {
      for (String key : spec.thresholds()) {
        list.add(Thresholds.require(key));
      }
    }
    return list;
  }

  /**
   * True when the detector's warnings decide the verdict only beside another detector's warning
   * ({@link DetectorSpec#needsCorroboration()}).
   */
  public boolean needsCorroboration() {
    DetectorSpec spec = create().getClass().getAnnotation(DetectorSpec.class);
    return spec != null && spec.needsCorroboration();
  }

  /**
   * True when the detector reads the loss's trend or the accuracy as supervised measures of
   * progress ({@link DetectorSpec#judgesProgress()}).
   */
  public boolean judgesProgress() {
    DetectorSpec spec = create().getClass().getAnnotation(DetectorSpec.class);
    return spec != null && spec.judgesProgress();
  }

  /** A new instance for one analysis. */
  public Detector create() {
    return factory.get();
  }

  /** True when the detector runs in {@code mode}. */
  public boolean runsIn(AnalysisMode mode) {
    return modes.contains(mode);
  }
}
