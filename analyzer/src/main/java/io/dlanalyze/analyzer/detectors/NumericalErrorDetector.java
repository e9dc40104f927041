package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_STREAMS;
import static io.dlanalyze.analyzer.EvidenceKeys.INF_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.KIND;
import static io.dlanalyze.analyzer.EvidenceKeys.MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.NAN_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.STATISTIC;
import static io.dlanalyze.analyzer.EvidenceKeys.STEPS_WITH_NON_FINITE;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

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
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

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
    thresholds = {"window"})
public final class NumericalErrorDetector implements Detector {
  private static final DetectorSpec SPEC =
      NumericalErrorDetector.class.getAnnotation(DetectorSpec.class);
  private static final int MIN_BIT = 1 << Column.MIN.ordinal();
  private static final int MAX_BIT = 1 << Column.MAX.ordinal();
  private static final int NAN_BIT = 1 << Column.NAN_COUNT.ordinal();
  private static final int INF_BIT = 1 << Column.INF_COUNT.ordinal();

  private final List<Finding> findings = new ArrayList<>();
  private int window;
  private int[] slotEpisode = new int[0];
  private long[] slotFirst = new long[0];
  private long[] slotOccurrences = new long[0];
  private int[] episodeSlots = new int[16];
  private int episodeSlotCount;
  private int episode;
  private boolean active;
  private long cleanStreak;
  private long rootStep;
  private int rootLayer;
  private Phase rootPhase;
  private String rootKind;
  private Statistic rootStatistic;
  private double rootMean;
  private long rootNanCount;
  private long rootInfCount;
  private long lastStep;
  private long episodeSteps;

  @Override
  public Set<Column> columns() {
    return EnumSet.of(Column.MEAN, Column.MIN, Column.MAX, Column.NAN_COUNT, Column.INF_COUNT);
  }

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
  }

  @Override
  public void observe(StepView step) {
    int layers = step.layerCount();
    int slots = StepView.slotCount(layers);
    if (slotEpisode.length < slots) {
      int n = Math.max(slots, slotEpisode.length * 2);
      slotEpisode = Arrays.copyOf(slotEpisode, n);
      slotFirst = Arrays.copyOf(slotFirst, n);
      slotOccurrences = Arrays.copyOf(slotOccurrences, n);
    }
    double[] mean = step.doubles(Column.MEAN);
    double[] min = step.doubles(Column.MIN);
    double[] max = step.doubles(Column.MAX);
    long[] nan = step.longs(Column.NAN_COUNT);
    long[] inf = step.longs(Column.INF_COUNT);
    boolean any = false;
    // The model-level slots, then those of each layer with rows in this step, in slot order.
    for (int i = -1, n = step.presentLayerCount(); i < n; i++) {
      int base = (i < 0 ? 0 : step.presentLayer(i) + 1) * Phase.COUNT;
      if (base + Phase.COUNT > slots) {
        break;
      }
      for (int slot = base; slot < base + Phase.COUNT; slot++) {
        int mask = step.presentMask(slot);
        if (mask == 0
            || Double.isFinite(mean[slot])
                && ((mask & MIN_BIT) == 0 || Double.isFinite(min[slot]))
                && ((mask & MAX_BIT) == 0 || Double.isFinite(max[slot]))
                && ((mask & NAN_BIT) == 0 || nan[slot] <= 0)
                && ((mask & INF_BIT) == 0 || inf[slot] <= 0)) {
          continue;
        }
        int layer = layerOf(slot);
        Phase phase = phaseOf(slot);
        if (!any && !active) {
          episode++;
          active = true;
          episodeSlotCount = 0;
          episodeSteps = 0;
          rootPhase = null;
        }
        any = true;
        if (rootPhase == null
            || step.step() == rootStep
                && CausalOrder.compare(step.step(), layer, phase, rootStep, rootLayer, rootPhase)
                    < 0) {
          setRoot(step, layer, phase);
        }
        if (slotEpisode[slot] != episode) {
          slotEpisode[slot] = episode;
          slotFirst[slot] = step.step();
          slotOccurrences[slot] = 0;
          if (episodeSlotCount == episodeSlots.length) {
            episodeSlots = Arrays.copyOf(episodeSlots, episodeSlotCount * 2);
          }
          episodeSlots[episodeSlotCount++] = slot;
        }
        slotOccurrences[slot]++;
      }
    }
    if (any) {
      cleanStreak = 0;
      lastStep = step.step();
      episodeSteps++;
    } else if (active && ++cleanStreak >= window) {
      close(step.context());
    }
  }

  private void setRoot(StepView step, int layer, Phase phase) {
    rootStep = step.step();
    rootLayer = layer;
    rootPhase = phase;
    double mean = step.mean(layer, phase);
    double min = step.value(layer, phase, Column.MIN);
    double max = step.value(layer, phase, Column.MAX);
    long nan = step.count(layer, phase, Column.NAN_COUNT);
    long inf = step.count(layer, phase, Column.INF_COUNT);
    rootMean = mean;
    rootNanCount = nan;
    rootInfCount = inf;
    boolean isNan =
        Double.isNaN(mean)
            || nan > 0
            || Double.isNaN(min) && step.present(layer, phase, Column.MIN)
            || Double.isNaN(max) && step.present(layer, phase, Column.MAX);
    rootKind = isNan ? "NaN" : "Inf";
    if (!Double.isFinite(mean)) {
      rootStatistic = Statistic.MEAN;
    } else if (nan > 0) {
      rootStatistic = Statistic.NAN_COUNT;
    } else if (inf > 0) {
      rootStatistic = Statistic.INF_COUNT;
    } else if (!Double.isFinite(max) && step.present(layer, phase, Column.MAX)) {
      rootStatistic = Statistic.MAX;
    } else {
      rootStatistic = Statistic.MIN;
    }
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

  private void close(AnalysisContext context) {
    active = false;
    cleanStreak = 0;
    List<Consequence> consequences = new ArrayList<>();
    int rootSlot = StepView.slot(rootLayer, rootPhase);
    int[] order = Arrays.copyOf(episodeSlots, episodeSlotCount);
    Integer[] sorted = new Integer[order.length];
    for (int i = 0; i < order.length; i++) {
      sorted[i] = order[i];
    }
    Arrays.sort(
        sorted,
        (a, b) ->
            CausalOrder.compare(
                slotFirst[a], layerOf(a), phaseOf(a), slotFirst[b], layerOf(b), phaseOf(b)));
    int layersAffected = 0;
    boolean[] layerSeen = new boolean[context.layerCount() + 1];
    for (int slot : sorted) {
      int layer = layerOf(slot);
      if (layer >= 0 && !layerSeen[layer + 1]) {
        layerSeen[layer + 1] = true;
        layersAffected++;
      }
      if (slot == rootSlot) {
        continue;
      }
      consequences.add(
          new Consequence(
              layer,
              context.layer(layer).name(),
              phaseOf(slot),
              slotFirst[slot],
              slotOccurrences[slot]));
    }
    String name = context.layer(rootLayer).name();
    Evidence.Builder evidence =
        Evidence.builder().put(KIND, rootKind).put(STATISTIC, rootStatistic).put(MEAN, rootMean);
    if (rootNanCount >= 0) {
      evidence.put(NAN_COUNT, rootNanCount);
    }
    if (rootInfCount >= 0) {
      evidence.put(INF_COUNT, rootInfCount);
    }
    evidence
        .put(AFFECTED_STREAMS, (long) sorted.length)
        .put(AFFECTED_LAYERS, (long) layersAffected)
        .put(STEPS_WITH_NON_FINITE, episodeSteps);
    String where = Phrases.subject(name, rootLayer, rootPhase);
    String spread =
        consequences.isEmpty()
            ? "it stayed there"
            : format(
                ROOT,
                "it spread to %d other %s",
                consequences.size(),
                consequences.size() == 1 ? "stream" : "streams");
    findings.add(
        Finding.builder(SPEC)
            .at(rootLayer, rootPhase)
            .steps(rootStep, lastStep, episodeSteps)
            .evidence(evidence.build())
            .consequences(consequences)
            .message(
                "%s first turned %s at step %d (%s %s); %s, and %d %s had non-finite values up to"
                    + " step %d.",
                where,
                rootKind,
                rootStep,
                rootStatistic.wireName(),
                rootStatistic == Statistic.MEAN
                    ? Numbers.format(rootMean)
                    : rootStatistic == Statistic.NAN_COUNT
                        ? Long.toString(rootNanCount)
                        : rootStatistic == Statistic.INF_COUNT
                            ? Long.toString(rootInfCount)
                            : "non-finite",
                spread,
                episodeSteps,
                episodeSteps == 1 ? "step" : "steps",
                lastStep)
            .build());
  }

  private static int layerOf(int slot) {
    return slot / Phase.COUNT - 1;
  }

  private static Phase phaseOf(int slot) {
    return Phase.ofCode(slot % Phase.COUNT);
  }
}
