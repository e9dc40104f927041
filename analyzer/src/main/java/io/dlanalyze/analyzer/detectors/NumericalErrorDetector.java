package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_STREAMS;
import static io.dlanalyze.analyzer.EvidenceKeys.INF_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.KIND;
import static io.dlanalyze.analyzer.EvidenceKeys.MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.NAN_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.STATISTIC;
import static io.dlanalyze.analyzer.EvidenceKeys.STEPS_WITH_NON_FINITE;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.CausalOrder;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.Statistic;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.analyzer.text.Phrases;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Reports NaN and Inf values, grouped by propagation: the earliest non-finite observation of an
 * episode (by step, then DeepLocalize's phase order, then execution order) is the root finding, and
 * every other stream that turned non-finite during the episode is listed as its consequence.
 *
 * <p>Implementation notes: a row is non-finite when its mean, min or max is NaN/Inf or its
 * nan_count/inf_count is positive. An episode starts at the first step with a non-finite row and
 * ends after {@code window} steps in a row without one (a run that recovers, e.g. loss scaling
 * skipping an overflowed step, can have several episodes). Source: DeepLocalize Alg. 2's NaN/Inf
 * test on every stream (docs/references.md#deeplocalize-checks); grouping is ours
 * (#what-none-does).
 */
@DetectorSpec(
    id = DetectorIds.NUMERICAL_ERROR,
    symptom = Symptom.NUMERICAL_ERROR,
    severity = Severity.CRITICAL,
    summary = "NaN or Inf values, grouped from the layer and phase where they were born",
    source =
        "DeepLocalize Alg. 2 NaN/Inf rule; TheDeepChecker NaN checks"
            + " (docs/references.md#deeplocalize-checks, #thedeepchecker)",
    thresholds = {"window"},
    columns = {Column.MEAN, Column.MIN, Column.MAX, Column.NAN_COUNT, Column.INF_COUNT})
public final class NumericalErrorDetector implements Detector {

  /** Per stream: the last episode it was non-finite in, from which step, in how many steps. */
  private static final class Stream {
    int episode;
    long first;
    long occurrences;
  }

  /** The episode's earliest non-finite row and what was not finite in it. */
  private record Root(
      long step, int layer, Phase phase, String kind, Statistic statistic, StepValues values) {}

  /** The root row's mean and counts (-1 where not recorded). */
  private record StepValues(double mean, long nan, long inf) {}

  private final List<Finding> findings = new ArrayList<>();
  private final SlotStates<Stream> streams = new SlotStates<>(Stream::new);
  private int window;
  private int episode;
  private boolean active;
  private long cleanStreak;
  private @Nullable Root root;
  private long lastStep;
  private long episodeSteps;

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
  }

  @Override
  public int classifications() {
    return StepView.NON_FINITE;
  }

  @Override
  public void observe(StepView step) {
    AnalysisContext context = step.context();
    boolean any = false;
    for (int i = 0; i < step.presentSlotCount(); i++) {
      int slot = step.presentSlot(i);
      if ((step.presentMask(slot) & StepView.NON_FINITE) == 0) {
        continue;
      }
      int layer = context.slotLayer(slot);
      Phase phase = context.slotPhase(slot);
      if (!any && !active) {
        episode++;
        active = true;
        episodeSteps = 0;
        root = null;
      }
      any = true;
      if (root == null
          || (step.step() == root.step()
              && CausalOrder.compare(
                      step.step(), layer, phase, root.step(), root.layer(), root.phase())
                  < 0)) {
        root = root(step, layer, phase);
      }
      Stream stream = streams.at(slot);
      if (stream.episode != episode) {
        stream.episode = episode;
        stream.first = step.step();
        stream.occurrences = 0;
      }
      stream.occurrences++;
    }
    if (any) {
      cleanStreak = 0;
      lastStep = step.step();
      episodeSteps++;
    } else if (active && ++cleanStreak >= window) {
      close(context);
    }
  }

  private static Root root(StepView step, int layer, Phase phase) {
    double mean = step.mean(layer, phase);
    double min = step.value(layer, phase, Column.MIN);
    double max = step.value(layer, phase, Column.MAX);
    long nan = step.count(layer, phase, Column.NAN_COUNT);
    long inf = step.count(layer, phase, Column.INF_COUNT);
    boolean isNan =
        Double.isNaN(mean)
            || nan > 0
            || (Double.isNaN(min) && step.present(layer, phase, Column.MIN))
            || (Double.isNaN(max) && step.present(layer, phase, Column.MAX));
    Statistic statistic;
    if (!Double.isFinite(mean)) {
      statistic = Statistic.MEAN;
    } else if (nan > 0) {
      statistic = Statistic.NAN_COUNT;
    } else if (inf > 0) {
      statistic = Statistic.INF_COUNT;
    } else if (!Double.isFinite(max) && step.present(layer, phase, Column.MAX)) {
      statistic = Statistic.MAX;
    } else {
      statistic = Statistic.MIN;
    }
    return new Root(
        step.step(),
        layer,
        phase,
        isNan ? "NaN" : "Inf",
        statistic,
        new StepValues(mean, nan, inf));
  }

  @Override
  public boolean fired() {
    return episode > 0;
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    if (active) {
      close(context);
    }
    return List.copyOf(findings);
  }

  /** Ends an episode: one finding at its root, the other streams it reached as consequences. */
  private void close(AnalysisContext context) {
    active = false;
    cleanStreak = 0;
    List<Integer> slots = new ArrayList<>();
    for (int slot : streams.slots(context)) {
      if (streams.get(slot).episode == episode) {
        slots.add(slot);
      }
    }
    slots.sort(
        (a, b) ->
            CausalOrder.compare(
                streams.get(a).first,
                context.slotLayer(a),
                context.slotPhase(a),
                streams.get(b).first,
                context.slotLayer(b),
                context.slotPhase(b)));
    requireNonNull(root, "an open episode has a root");
    int rootSlot = context.slot(root.layer(), root.phase());
    List<Consequence> consequences = new ArrayList<>();
    Set<Integer> layers = new HashSet<>();
    for (int slot : slots) {
      int layer = context.slotLayer(slot);
      if (layer >= 0) {
        layers.add(layer);
      }
      if (slot != rootSlot) {
        Stream stream = streams.get(slot);
        consequences.add(
            new Consequence(
                layer,
                context.layer(layer).name(),
                context.slotPhase(slot),
                stream.first,
                stream.occurrences));
      }
    }
    StepValues values = root.values();
    Evidence.Builder evidence =
        Evidence.builder()
            .put(KIND, root.kind())
            .put(STATISTIC, root.statistic())
            .put(MEAN, values.mean());
    if (values.nan() >= 0) {
      evidence.put(NAN_COUNT, values.nan());
    }
    if (values.inf() >= 0) {
      evidence.put(INF_COUNT, values.inf());
    }
    evidence
        .put(AFFECTED_STREAMS, slots.size())
        .put(AFFECTED_LAYERS, layers.size())
        .put(STEPS_WITH_NON_FINITE, episodeSteps);
    String value =
        switch (root.statistic()) {
          case MEAN -> Numbers.format(values.mean());
          case NAN_COUNT -> Long.toString(values.nan());
          case INF_COUNT -> Long.toString(values.inf());
          case MAX, MIN -> "non-finite";
        };
    findings.add(
        Finding.builder(this)
            .at(root.layer(), root.phase())
            .steps(root.step(), lastStep, episodeSteps)
            .evidence(evidence.build())
            .consequences(consequences)
            .message(
                "%s first turned %s at step %d (%s %s); %s, and %s had non-finite values up to step"
                    + " %d.",
                Phrases.subject(context.layer(root.layer()).name(), root.layer(), root.phase()),
                root.kind(),
                root.step(),
                root.statistic().wireName(),
                value,
                consequences.isEmpty()
                    ? "it stayed there"
                    : "it spread to "
                        + Phrases.count(consequences.size(), "other stream", "other streams"),
                Phrases.count(episodeSteps, "step", "steps"),
                lastStep)
            .build());
  }
}
