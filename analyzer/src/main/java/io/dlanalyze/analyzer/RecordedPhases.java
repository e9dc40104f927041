package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.Printable;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which detectors lose their input when the recorder left phases out on purpose: {@code
 * dltrace.record_phases} lists the phases it recorded (the recorders' {@code phases=} option, or
 * the Keras recorder's callback mode for a model with its own {@code train_step}, {@code
 * dltrace.record_mode} = {@code callback}: weights and the logged scalars only). The report and
 * {@code inspect} then say which rows were not recorded, which detectors did not run and which
 * judged only part of their rows, so that a healthy verdict reads as healthy in what was recorded,
 * not as a clean bill for what was not.
 */
public final class RecordedPhases {
  /**
   * The phases a detector reads.
   *
   * @param all it does not run unless every one of these was recorded
   * @param any it does not run unless at least one of these was recorded (empty: no such need)
   * @param more it reads these too when they are there
   */
  record Reads(Set<Phase> all, Set<Phase> any, Set<Phase> more) {}

  private static final Set<Phase> NONE = Set.of();

  /** By detector id: every built-in detector (a test checks that none is missing). */
  static final Map<String, Reads> READS = reads();

  private RecordedPhases() {}

  private static Map<String, Reads> reads() {
    Map<String, Reads> reads = new LinkedHashMap<>();
    Set<Phase> every = EnumSet.allOf(Phase.class);
    reads.put(DetectorIds.NUMERICAL_ERROR, new Reads(NONE, every, NONE));
    reads.put(
        DetectorIds.DEAD_OR_ZERO,
        new Reads(
            NONE,
            EnumSet.of(Phase.FORWARD, Phase.ACTIVATION, Phase.BACKWARD, Phase.GRADIENT),
            NONE));
    reads.put(
        DetectorIds.UNCHANGED_VALUES,
        new Reads(
            NONE, EnumSet.of(Phase.FORWARD, Phase.ACTIVATION, Phase.WEIGHT, Phase.GRADIENT), NONE));
    reads.put(
        DetectorIds.NOT_LEARNING, new Reads(NONE, EnumSet.of(Phase.LOSS, Phase.ACCURACY), NONE));
    reads.put(
        DetectorIds.EXPLODING_GRADIENT,
        new Reads(NONE, EnumSet.of(Phase.GRADIENT, Phase.BACKWARD), NONE));
    reads.put(
        DetectorIds.VANISHING_GRADIENT,
        new Reads(NONE, EnumSet.of(Phase.GRADIENT, Phase.BACKWARD), NONE));
    reads.put(
        DetectorIds.DYING_RELU,
        new Reads(EnumSet.of(Phase.ACTIVATION), NONE, EnumSet.of(Phase.BACKWARD)));
    reads.put(
        DetectorIds.SATURATION,
        new Reads(EnumSet.of(Phase.ACTIVATION), NONE, EnumSet.of(Phase.FORWARD)));
    reads.put(DetectorIds.OSCILLATING_LOSS, new Reads(EnumSet.of(Phase.LOSS), NONE, NONE));
    reads.put(
        DetectorIds.SLOW_CONVERGENCE,
        new Reads(NONE, EnumSet.of(Phase.LOSS, Phase.ACCURACY), NONE));
    reads.put(
        DetectorIds.NOT_CONVERGING,
        new Reads(
            NONE,
            EnumSet.of(Phase.ACCURACY, Phase.VAL_ACCURACY, Phase.LOSS),
            EnumSet.of(Phase.TARGET)));
    reads.put(
        DetectorIds.EFFECTIVE_LEARNING_RATE,
        new Reads(EnumSet.of(Phase.GRADIENT, Phase.WEIGHT), NONE, EnumSet.of(Phase.LOSS)));
    reads.put(
        DetectorIds.INPUT_RANGE,
        new Reads(EnumSet.of(Phase.INPUT), NONE, EnumSet.of(Phase.FORWARD, Phase.WEIGHT)));
    reads.put(
        DetectorIds.TARGET_RANGE,
        new Reads(EnumSet.of(Phase.TARGET), NONE, EnumSet.of(Phase.ACTIVATION)));
    reads.put(DetectorIds.WEIGHT_VARIANCE, new Reads(EnumSet.of(Phase.WEIGHT), NONE, NONE));
    reads.put(
        DetectorIds.LOSS_DEFINITION, new Reads(NONE, NONE, EnumSet.of(Phase.LOSS, Phase.TARGET)));
    // reads the metadata only
    reads.put(DetectorIds.MISSING_ACTIVATION, new Reads(NONE, NONE, NONE));
    reads.put(
        DetectorIds.LAYER_MODE, new Reads(NONE, EnumSet.of(Phase.FORWARD, Phase.WEIGHT), NONE));
    reads.put(DetectorIds.INITIAL_LOSS, new Reads(EnumSet.of(Phase.LOSS), NONE, NONE));
    reads.put(
        DetectorIds.GRADIENT_ACCUMULATION,
        new Reads(EnumSet.of(Phase.GRADIENT), NONE, EnumSet.of(Phase.WEIGHT)));
    reads.put(
        DetectorIds.LOSS_DIVERGENCE,
        new Reads(EnumSet.of(Phase.LOSS), NONE, EnumSet.of(Phase.VAL_LOSS)));
    reads.put(DetectorIds.BATCH_ORDER, new Reads(EnumSet.of(Phase.ACCURACY), NONE, NONE));
    reads.put(DetectorIds.LITTLE_PROGRESS, new Reads(EnumSet.of(Phase.LOSS), NONE, NONE));
    reads.put(DetectorIds.SHRINKING_WEIGHTS, new Reads(EnumSet.of(Phase.WEIGHT), NONE, NONE));
    // needs the returns, but only a reinforcement-learning run has them (see leftOut)
    reads.put(DetectorIds.RETURN_PROGRESS, new Reads(NONE, NONE, EnumSet.of(Phase.EPISODE_RETURN)));
    reads.put(DetectorIds.LOSS_MAGNITUDE, new Reads(EnumSet.of(Phase.LOSS), NONE, NONE));
    reads.put(DetectorIds.DEEPLOCALIZE, new Reads(NONE, every, NONE));
    return Map.copyOf(reads);
  }

  /**
   * The phases {@code dltrace.record_phases} says were not recorded, in {@link Phase} order; empty
   * when the key is absent, empty or names no phase this version knows (then nothing is claimed).
   */
  public static Set<Phase> leftOut(TraceMetadata metadata) {
    String value = metadata.get(TraceMetadata.RECORD_PHASES).orElse("");
    Set<Phase> recorded = EnumSet.noneOf(Phase.class);
    for (String name : value.split(",", -1)) {
      Phase.fromWireName(name.strip()).ifPresent(recorded::add);
    }
    if (recorded.isEmpty()) {
      return EnumSet.noneOf(Phase.class);
    }
    return withoutNotEveryRun(EnumSet.complementOf(EnumSet.copyOf(recorded)));
  }

  /**
   * {@code phases} without those only some kinds of run have (a reinforcement-learning run's
   * returns): a list of recorded phases says nothing of them by naming them or not.
   */
  private static Set<Phase> withoutNotEveryRun(Set<Phase> phases) {
    phases.remove(Phase.EPISODE_RETURN);
    return phases;
  }

  /**
   * One line naming the phases the recorder left out and the detectors (of {@code detectors}, those
   * that ran) that therefore did not run, and one naming those that judged only part of their rows;
   * empty when the recorder recorded every phase.
   */
  public static List<String> notes(TraceMetadata metadata, List<String> detectors) {
    Set<Phase> missing = leftOut(metadata);
    if (missing.isEmpty()) {
      return List.of();
    }
    List<String> notRun = new ArrayList<>();
    List<String> partial = new ArrayList<>();
    for (String id : detectors) {
      Reads reads = READS.get(id);
      if (reads == null) {
        continue; // a plug-in: what it reads is not known here
      }
      boolean lacksAll = reads.all().stream().anyMatch(missing::contains);
      boolean lacksAny = !reads.any().isEmpty() && missing.containsAll(reads.any());
      if (lacksAll || lacksAny) {
        notRun.add(id);
      } else if (reads.any().stream().anyMatch(missing::contains)
          || reads.more().stream().anyMatch(missing::contains)) {
        partial.add(id);
      }
    }
    List<String> names = new ArrayList<>();
    for (Phase phase : missing) {
      names.add(phase.wireName());
    }
    List<String> kept = new ArrayList<>();
    for (Phase phase : withoutNotEveryRun(EnumSet.complementOf(EnumSet.copyOf(missing)))) {
      kept.add(phase.wireName());
    }
    String mode =
        metadata
            .get(TraceMetadata.RECORD_MODE)
            .map(
                m ->
                    m.equals("callback")
                        ? "; dltrace.record_mode callback: a model with its own train step,"
                            + " read from a callback at each batch end"
                        : "; dltrace.record_mode " + Printable.excerpt(m, Printable.QUOTE))
            .orElse("");
    List<String> lines = new ArrayList<>();
    lines.add(
        format(
            ROOT,
            "not recorded: %s rows (the recorder recorded only %s: dltrace.record_phases%s): %s",
            list(names),
            String.join(", ", kept),
            mode,
            notRun.isEmpty()
                ? "every detector had some of its input"
                : list(notRun)
                    + " did not run, and the verdict says nothing about what they check"));
    if (!partial.isEmpty()) {
      lines.add(
          format(
              ROOT,
              "%s judged only the recorded phases (not recorded: %s)",
              list(partial),
              String.join(", ", names)));
    }
    return lines;
  }

  /** "a", "a and b", "a, b and c". */
  private static String list(List<String> items) {
    if (items.size() <= 1) {
      return String.join("", items);
    }
    return String.join(", ", items.subList(0, items.size() - 1))
        + " and "
        + items.get(items.size() - 1);
  }
}
