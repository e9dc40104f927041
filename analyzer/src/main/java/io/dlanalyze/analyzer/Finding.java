package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.Phase;
import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One problem at one place and time: a detector's symptom in a layer (or the whole model) and
 * phase, from a first step to a last step, with the numbers behind it and a full sentence.
 *
 * @param detector the id of the detector that reported it
 * @param symptom the symptom class
 * @param severity how bad it is
 * @param layerIndex the layer, or -1 for model-level findings
 * @param layerName the layer's name ({@code "model"} for model-level findings); {@code null} until
 *     the engine resolves it
 * @param layerType the framework's class name, or {@code null}
 * @param phase where the symptom was first seen
 * @param firstStep the step the symptom started (its onset, which may precede the step it was
 *     confirmed at)
 * @param epoch the epoch of {@code firstStep}, or -1 until the engine resolves it
 * @param batch the in-epoch batch of {@code firstStep}, or -1 until the engine resolves it
 * @param lastStep the last step the symptom was seen
 * @param occurrences in how many steps it was seen
 * @param evidence the numbers behind it
 * @param message a full sentence with numbers in it, written by the detector
 * @param consequences other places the same symptom showed up, caused by this one
 * @param suggestedFix a short fix hint, or {@code null}
 */
public record Finding(
    String detector,
    Symptom symptom,
    Severity severity,
    int layerIndex,
    @Nullable String layerName,
    @Nullable String layerType,
    Phase phase,
    long firstStep,
    int epoch,
    int batch,
    long lastStep,
    long occurrences,
    Evidence evidence,
    String message,
    List<Consequence> consequences,
    @Nullable String suggestedFix) {

  /**
   * The report's order: earliest first step, then DeepLocalize's phase order, then execution order
   * inside the phase ({@link CausalOrder}), then severity (most severe first), then detector id,
   * layer index, phase and message so the order is total.
   */
  public static final Comparator<Finding> RANKING =
      (a, b) -> {
        int c =
            CausalOrder.compare(
                a.firstStep, a.layerIndex, a.phase, b.firstStep, b.layerIndex, b.phase);
        if (c != 0) {
          return c;
        }
        c = b.severity.compareTo(a.severity);
        if (c != 0) {
          return c;
        }
        c = a.detector.compareTo(b.detector);
        if (c != 0) {
          return c;
        }
        c = Integer.compare(a.layerIndex, b.layerIndex);
        if (c != 0) {
          return c;
        }
        c = a.phase.compareTo(b.phase);
        if (c != 0) {
          return c;
        }
        return a.message.compareTo(b.message);
      };

  public Finding {
    requireNonNull(detector, "detector is null");
    requireNonNull(symptom, "symptom is null");
    requireNonNull(severity, "severity is null");
    requireNonNull(phase, "phase is null");
    requireNonNull(evidence, "evidence is null");
    requireNonNull(message, "message is null");
    consequences = List.copyOf(consequences);
    if (layerIndex < -1) {
      throw new IllegalArgumentException(
          format(ROOT, "layerIndex must be -1 or more: %s", layerIndex));
    }
    if (lastStep < firstStep) {
      throw new IllegalArgumentException(
          format(ROOT, "lastStep %s is before firstStep %s", lastStep, firstStep));
    }
    if (occurrences < 1) {
      throw new IllegalArgumentException(
          format(ROOT, "occurrences must be positive: %s", occurrences));
    }
  }

  /** True for findings about the whole model (loss, accuracy...), not one layer. */
  public boolean isModelLevel() {
    return layerIndex < 0;
  }

  /** A builder for a finding of the detector described by {@code spec}. */
  public static Builder builder(DetectorInfo spec) {
    return new Builder(spec.id(), spec.symptom(), spec.severity());
  }

  /** A builder for a finding of {@code detector}, whose class carries a {@link DetectorSpec}. */
  public static Builder builder(Detector detector) {
    DetectorSpec spec = detector.getClass().getAnnotation(DetectorSpec.class);
    if (spec == null) {
      throw new IllegalArgumentException(
          format(ROOT, "%s has no @DetectorSpec annotation", detector.getClass().getName()));
    }
    return builder(spec);
  }

  /** A builder for a finding of the detector whose class carries {@code spec}. */
  public static Builder builder(DetectorSpec spec) {
    return new Builder(spec.id(), spec.symptom(), spec.severity());
  }

  /** A builder for a finding of the detector with this id. */
  public static Builder builder(String detector, Symptom symptom, Severity severity) {
    return new Builder(detector, symptom, severity);
  }

  /**
   * The layer's name ({@code "model"} for model-level findings), which every finding of a report
   * has: the engine resolves it ({@link #withResolved}) before anything reads it.
   */
  public String resolvedLayerName() {
    return requireNonNull(layerName, "the finding's layer is not resolved yet");
  }

  /** A copy with the names and epoch/batch filled in. */
  public Finding withResolved(String layerName, @Nullable String layerType, int epoch, int batch) {
    return new Finding(
        detector,
        symptom,
        severity,
        layerIndex,
        layerName,
        layerType,
        phase,
        firstStep,
        epoch,
        batch,
        lastStep,
        occurrences,
        evidence,
        message,
        consequences,
        suggestedFix);
  }

  /**
   * A copy at {@code severity}, with {@code note} (a sentence) after the message: a finding that
   * the report keeps below the severity its detector gave, and says why.
   */
  public Finding withSeverity(Severity severity, String note) {
    return new Finding(
        detector,
        symptom,
        severity,
        layerIndex,
        layerName,
        layerType,
        phase,
        firstStep,
        epoch,
        batch,
        lastStep,
        occurrences,
        evidence,
        message + " " + note,
        consequences,
        suggestedFix);
  }

  /** A copy with these consequences. */
  public Finding withConsequences(List<Consequence> consequences) {
    return new Finding(
        detector,
        symptom,
        severity,
        layerIndex,
        layerName,
        layerType,
        phase,
        firstStep,
        epoch,
        batch,
        lastStep,
        occurrences,
        evidence,
        message,
        consequences,
        suggestedFix);
  }

  /** Builds a {@link Finding}; the detector, symptom and severity are set up front. */
  public static final class Builder {
    private final String detector;
    private Symptom symptom;
    private Severity severity;
    private int layerIndex = -1;
    private @Nullable String layerName;
    private @Nullable String layerType;
    private @Nullable Phase phase;
    private long firstStep = -1;
    private int epoch = -1;
    private int batch = -1;
    private long lastStep = -1;
    private long occurrences = 1;
    private Evidence evidence = Evidence.empty();
    private @Nullable String message;
    private List<Consequence> consequences = List.of();
    private @Nullable String suggestedFix;

    private Builder(String detector, Symptom symptom, Severity severity) {
      this.detector = requireNonNull(detector, "detector is null");
      this.symptom = requireNonNull(symptom, "symptom is null");
      this.severity = requireNonNull(severity, "severity is null");
    }

    public Builder symptom(Symptom symptom) {
      this.symptom = requireNonNull(symptom, "symptom is null");
      return this;
    }

    public Builder severity(Severity severity) {
      this.severity = requireNonNull(severity, "severity is null");
      return this;
    }

    /** The layer (-1 for model-level) and phase the finding is about. */
    public Builder at(int layerIndex, Phase phase) {
      this.layerIndex = layerIndex;
      this.phase = requireNonNull(phase, "phase is null");
      return this;
    }

    public Builder layerName(String layerName) {
      this.layerName = layerName;
      return this;
    }

    public Builder layerType(String layerType) {
      this.layerType = layerType;
      return this;
    }

    /** First and last step, and in how many steps the symptom was seen. */
    public Builder steps(long firstStep, long lastStep, long occurrences) {
      this.firstStep = firstStep;
      this.lastStep = lastStep;
      this.occurrences = occurrences;
      return this;
    }

    /** Epoch and in-epoch batch of the first step (the engine fills them when left unset). */
    public Builder epochBatch(int epoch, int batch) {
      this.epoch = epoch;
      this.batch = batch;
      return this;
    }

    public Builder evidence(Evidence evidence) {
      this.evidence = requireNonNull(evidence, "evidence is null");
      return this;
    }

    public Builder message(String message) {
      this.message = requireNonNull(message, "message is null");
      return this;
    }

    public Builder message(String template, Object... args) {
      return message(format(ROOT, template, args));
    }

    public Builder consequences(List<Consequence> consequences) {
      this.consequences = List.copyOf(consequences);
      return this;
    }

    public Builder suggestedFix(@Nullable String suggestedFix) {
      this.suggestedFix = suggestedFix;
      return this;
    }

    public Finding build() {
      if (phase == null) {
        throw new IllegalStateException("finding has no phase: call at(layer, phase)");
      }
      if (firstStep < 0) {
        throw new IllegalStateException(
            "finding has no steps: call steps(first, last, occurrences)");
      }
      return new Finding(
          detector,
          symptom,
          severity,
          layerIndex,
          layerName,
          layerType,
          phase,
          firstStep,
          epoch,
          batch,
          lastStep,
          occurrences,
          evidence,
          requireNonNull(message, "message is null"),
          consequences,
          suggestedFix);
    }
  }
}
