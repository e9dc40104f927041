package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_LAYERS;
import static io.dlanalyze.analyzer.EvidenceKeys.AFFECTED_STREAMS;
import static io.dlanalyze.analyzer.EvidenceKeys.BEFORE_FIRST_UPDATE;
import static io.dlanalyze.analyzer.EvidenceKeys.GRADIENT_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.INF_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.KIND;
import static io.dlanalyze.analyzer.EvidenceKeys.LAST_FINITE_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.LONGEST_SKIPPED_RUN;
import static io.dlanalyze.analyzer.EvidenceKeys.MEAN;
import static io.dlanalyze.analyzer.EvidenceKeys.NAN_COUNT;
import static io.dlanalyze.analyzer.EvidenceKeys.SCALE_MIN;
import static io.dlanalyze.analyzer.EvidenceKeys.SCALE_MIN_STEP;
import static io.dlanalyze.analyzer.EvidenceKeys.SKIPPED_STEPS;
import static io.dlanalyze.analyzer.EvidenceKeys.SKIP_RULE;
import static io.dlanalyze.analyzer.EvidenceKeys.STATISTIC;
import static io.dlanalyze.analyzer.EvidenceKeys.STEPS_WITH_NON_FINITE;
import static io.dlanalyze.analyzer.EvidenceKeys.WINDOW;
import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.ActivationKind;
import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.CausalOrder;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.EvidenceKeys.SkipRule;
import io.dlanalyze.analyzer.EvidenceKeys.Statistic;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
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
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Reports NaN and Inf values, grouped by propagation: the earliest non-finite observation of an
 * episode (by step, then DeepLocalize's phase order, then execution order) is the root finding, and
 * every other stream that turned non-finite during the episode is listed as its consequence.
 *
 * <p>Implementation notes: a row is non-finite when its mean, min or max is NaN/Inf or its
 * nan_count/inf_count is positive. An episode starts at the first step with a non-finite row and
 * ends after {@code window} steps in a row without one (a run that recovers can have several
 * episodes). Source: DeepLocalize Alg. 2's NaN/Inf test on every stream
 * (docs/references.md#deeplocalize-checks); grouping is ours (#what-none-does).
 *
 * <p>Skipped updates. A step whose only non-finite rows are weight gradients and output gradients,
 * whose loss is finite, and where every layer with a non-finite weight gradient has a finite weight
 * row, is an update that was skipped, not a numerical error: weights are recorded after the update,
 * and a non-finite gradient that reaches SGD, Adam or gradient clipping turns the weights NaN/Inf
 * on the same step, while a skipped update leaves them as they were. Such steps open no episode;
 * they are counted into one finding of their own. A step without a weight row for such a layer is
 * judged as before (a numerical error): nothing shows that its update was skipped.
 *
 * <p>Sampled traces. A layer's output that turned non-finite on weights an unrecorded update had
 * already made non-finite (every trainable layer's weights non-finite at the episode's first step,
 * finite at their previous row more than one step back) is not where the NaN was born: the finding
 * is at model level, the update's gradient ({@link #unrecordedUpdate}).
 *
 * <p>A dynamic loss scaler skips updates by design (docs/references.md#pytorch-amp,
 * #keras-loss-scale-optimizer). PyTorch's GradScaler starts at a scale of 65536 (2^16), halves it
 * (backoff 0.5) at every step whose gradients overflow and skips that step's update, and doubles it
 * after 2000 steps in a row without overflow; Keras' LossScaleOptimizer starts at 2^15 and doubles
 * after {@code dynamic_growth_steps} = 2000 clean steps. A healthy run therefore skips about
 * log2(initial scale / working scale) steps in a row at its start (a handful: even from 2^24 down
 * to 2^10 is 14 steps), then about one step per growth interval, when the doubled scale overflows
 * again: far below one step in two. So the finding is info (transient) unless the skipping
 * persists: {@code window} skipped steps in a row ({@link SkipRule#IN_A_ROW}), or more than half of
 * the steps with weight-gradient rows after the first {@code window} of them ({@link
 * SkipRule#MOSTLY}); then it is a warning: the updates are being thrown away because the gradients
 * are non-finite on their own, not only because a scale overflowed float16.
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

  /** The trace's first step, -1 before it. */
  private long firstStep = -1;

  /**
   * For the open episode: the last step before its first at which the root layer's weights were
   * recorded finite, when the root is a layer's output whose weights every layer's update turned
   * non-finite in steps the trace did not record ({@link #unrecordedUpdate}); else -1.
   */
  private long updateFrom = -1;

  /** The trainable layers whose weights turned non-finite at the episode's first step. */
  private int updatedLayers;

  /**
   * Scale heads (see {@link #scaleHead}): per candidate layer, the first step its output's min was
   * at or below 0, and that min; -1 / NaN before.
   */
  private int[] scaleHeads = new int[0];

  private long[] scaleMinStep = new long[0];
  private double[] scaleMin = new double[0];

  /** Skipped updates (see the class comment). */
  private long skipped;

  private long firstSkipped = -1;
  private long lastSkipped = -1;
  private long skippedRun;
  private long longestSkippedRun;
  private long gradientSteps;
  private long lateGradientSteps;
  private long lateSkipped;
  private @Nullable Root skippedRoot;

  @Override
  public void begin(AnalysisContext context) {
    window = context.options().getInt(Thresholds.WINDOW);
    List<Integer> heads = new ArrayList<>();
    for (Layer layer : context.layers()) {
      if (scaleHead(layer)) {
        heads.add(layer.index());
      }
    }
    scaleHeads = heads.stream().mapToInt(Integer::intValue).toArray();
    scaleMinStep = new long[scaleHeads.length];
    Arrays.fill(scaleMinStep, -1);
    scaleMin = new double[scaleHeads.length];
  }

  /** The words of a layer's name that say it outputs a scale: a std, a sigma, a variance. */
  private static final Set<String> SCALE_WORDS =
      Set.of("sigma", "sigmas", "std", "stds", "stddev", "stdev", "sd", "scale", "var", "variance");

  private static final Pattern WORD_BREAK = Pattern.compile("[^a-z0-9]+");
  private static final Pattern CAMEL = Pattern.compile("([a-z0-9])([A-Z])");

  /**
   * A layer whose name says it outputs a scale of a distribution (a std, a sigma, a variance:
   * {@code sigma_head}, {@code z_std}, {@code mdn_sigmas}, {@code dec_std.0}), with a linear
   * output: nothing keeps its values above 0. A log-scale ({@code z_log_var}, {@code log_sigma})
   * may be negative and is not one; neither is a normalization layer.
   */
  static boolean scaleHead(Layer layer) {
    if (layer.isNormalization() || layer.activationKind() != ActivationKind.LINEAR) {
      return false;
    }
    Set<String> words =
        new HashSet<>(
            Arrays.asList(
                WORD_BREAK.split(
                    CAMEL.matcher(layer.name()).replaceAll("$1_$2").toLowerCase(Locale.ROOT))));
    if (words.contains("log") || words.contains("logvar") || words.contains("logstd")) {
      return false;
    }
    for (String word : words) {
      if (SCALE_WORDS.contains(word)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public int classifications() {
    return StepView.NON_FINITE;
  }

  @Override
  public void observe(StepView step) {
    AnalysisContext context = step.context();
    if (firstStep < 0) {
      firstStep = step.step();
    }
    if (skippedUpdate(step)) {
      if (active && ++cleanStreak >= window) {
        close(context);
      }
      return;
    }
    for (int i = 0; i < scaleHeads.length; i++) {
      if (scaleMinStep[i] < 0 && step.present(scaleHeads[i], Phase.FORWARD, Column.MIN)) {
        double min = step.value(scaleHeads[i], Phase.FORWARD, Column.MIN);
        if (min <= 0) {
          scaleMinStep[i] = step.step();
          scaleMin[i] = min;
        }
      }
    }
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
      if (root == null || (step.step() == root.step() && precedes(step, layer, phase, root))) {
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
      if (episodeSteps == 0) {
        updateFrom = unrecordedUpdate(step, requireNonNull(root, "a non-finite row set the root"));
      }
      cleanStreak = 0;
      lastStep = step.step();
      episodeSteps++;
    } else if (active && ++cleanStreak >= window) {
      close(context);
    }
  }

  /**
   * Whether this step's update was skipped: its non-finite rows are all weight or output gradients,
   * at least one a weight gradient, its loss is recorded and finite, and every layer with a
   * non-finite weight gradient has a finite weight row. Counts the steps with weight-gradient rows
   * and the skipped ones, and keeps the causal root of the first skipped step.
   */
  private boolean skippedUpdate(StepView step) {
    boolean gradients = false;
    boolean nonFinite = false;
    boolean onlyGradients = true;
    for (int i = 0; i < step.presentSlotCount(); i++) {
      int slot = step.presentSlot(i);
      AnalysisContext context = step.context();
      Phase phase = context.slotPhase(slot);
      boolean bad = (step.presentMask(slot) & StepView.NON_FINITE) != 0;
      if (phase == Phase.GRADIENT) {
        gradients = true;
      }
      if (!bad) {
        continue;
      }
      if (phase == Phase.GRADIENT) {
        nonFinite = true;
        int weight = step.slot(context.slotLayer(slot), Phase.WEIGHT);
        int mask = step.presentMask(weight);
        if (mask == 0 || (mask & StepView.NON_FINITE) != 0) {
          onlyGradients = false;
        }
      } else if (phase != Phase.BACKWARD) {
        onlyGradients = false;
      }
    }
    if (!gradients) {
      return false;
    }
    gradientSteps++;
    boolean late = gradientSteps > window;
    if (late) {
      lateGradientSteps++;
    }
    int loss = step.slot(-1, Phase.LOSS);
    int lossMask = step.presentMask(loss);
    boolean skip =
        nonFinite && onlyGradients && lossMask != 0 && (lossMask & StepView.NON_FINITE) == 0;
    if (!skip) {
      skippedRun = 0;
      return false;
    }
    skipped++;
    if (late) {
      lateSkipped++;
    }
    longestSkippedRun = Math.max(longestSkippedRun, ++skippedRun);
    if (firstSkipped < 0) {
      firstSkipped = step.step();
      skippedRoot = firstRoot(step);
    }
    lastSkipped = step.step();
    return true;
  }

  /**
   * Whether the non-finite row (layer, phase) comes before the root so far, both of this step: in
   * causal order, except that weights written after this step's update come after the loss and the
   * gradients of the step. Recorders write a step's weights after its update; a layer's weights
   * that are non-finite in a step whose forward (or activation) row of the same layer is finite
   * were finite when the forward pass ran, and turned non-finite in the update, from that step's
   * loss and gradients. DeepLocalize's order puts weights before the loss because its callback
   * reads them before the step's update; here that would make a NaN born in the loss look born in
   * the last layer's weights.
   */
  private static boolean precedes(StepView step, int layer, Phase phase, Root root) {
    int rank = rank(step, layer, phase);
    int rootRank = rank(step, root.layer(), root.phase());
    if (rank != rootRank) {
      return rank < rootRank;
    }
    return CausalOrder.compare(step.step(), layer, phase, root.step(), root.layer(), root.phase())
        < 0;
  }

  /** {@link CausalOrder#phaseRank}, with weights written after a finite forward pass last. */
  private static int rank(StepView step, int layer, Phase phase) {
    if (phase == Phase.WEIGHT && layer >= 0 && finiteForward(step, layer)) {
      return CausalOrder.phaseRank(Phase.BACKWARD) + 1;
    }
    return CausalOrder.phaseRank(phase);
  }

  /** The rows that show a layer's output in a step, in the order they are looked at. */
  private static final Phase[] OUTPUT_PHASES = {Phase.FORWARD, Phase.ACTIVATION};

  /** Whether this step has a forward or activation row of the layer, and it is finite. */
  private static boolean finiteForward(StepView step, int layer) {
    for (Phase phase : OUTPUT_PHASES) {
      int mask = step.presentMask(step.slot(layer, phase));
      if (mask != 0) {
        return (mask & StepView.NON_FINITE) == 0;
      }
    }
    return false;
  }

  /**
   * Whether the episode's first step shows weights that an update the trace did not record turned
   * non-finite: the root is a layer's output (forward or activation row), that layer's weight row
   * of the step is non-finite and its previous one, finite, is more than one step back (the trace
   * is sampled: the updates in between were not recorded), and every trainable layer with a weight
   * row in the step has non-finite weights, as one update with a non-finite gradient leaves them.
   * The layer's forward pass then ran on weights that were already non-finite: it did not make the
   * NaN, an unrecorded step's gradient (its loss overflowed) did. Returns the previous weight row's
   * step, or -1.
   */
  private long unrecordedUpdate(StepView step, Root root) {
    if (root.layer() < 0 || (root.phase() != Phase.FORWARD && root.phase() != Phase.ACTIVATION)) {
      return -1;
    }
    int weights = step.context().slot(root.layer(), Phase.WEIGHT);
    if (weights < 0 || (step.presentMask(weights) & StepView.NON_FINITE) == 0) {
      return -1;
    }
    long previous = step.previousStep(weights);
    if (previous < 0 || previous >= step.step() - 1) {
      return -1;
    }
    int trainable = 0;
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      int slot = step.slot(layer, Phase.WEIGHT);
      if (!step.layer(layer).trainable() || slot < 0 || step.presentMask(slot) == 0) {
        continue;
      }
      if ((step.presentMask(slot) & StepView.NON_FINITE) == 0) {
        return -1;
      }
      trainable++;
    }
    updatedLayers = trainable;
    return trainable >= 2 ? previous : -1;
  }

  /** The causally earliest non-finite row of this step. */
  private static @Nullable Root firstRoot(StepView step) {
    AnalysisContext context = step.context();
    Root first = null;
    for (int i = 0; i < step.presentSlotCount(); i++) {
      int slot = step.presentSlot(i);
      if ((step.presentMask(slot) & StepView.NON_FINITE) == 0) {
        continue;
      }
      int layer = context.slotLayer(slot);
      Phase phase = context.slotPhase(slot);
      if (first == null
          || CausalOrder.compare(
                  step.step(), layer, phase, first.step(), first.layer(), first.phase())
              < 0) {
        first = root(step, layer, phase);
      }
    }
    return first;
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
    if (skipped > 0) {
      findings.add(skippedUpdates(context));
    }
    return List.copyOf(findings);
  }

  /** The finding of the skipped updates: info while transient, a warning once persistent. */
  private Finding skippedUpdates(AnalysisContext context) {
    Root first = requireNonNull(skippedRoot, "a skipped step keeps its root");
    SkipRule rule =
        longestSkippedRun >= window
            ? SkipRule.IN_A_ROW
            : lateGradientSteps > 0 && 2 * lateSkipped > lateGradientSteps
                ? SkipRule.MOSTLY
                : SkipRule.TRANSIENT;
    String what =
        format(
            ROOT,
            "%s skipped, %s: the weight gradients were NaN/Inf (first in %s) while the loss and"
                + " the weights stayed finite",
            Phrases.count(skipped, "update was", "updates were"),
            skipped == 1
                ? "at step " + firstSkipped
                : format(
                    ROOT,
                    "the first at step %d and the last at step %d",
                    firstSkipped,
                    lastSkipped),
            Phrases.where(context.layer(first.layer()).name(), first.layer(), first.phase()));
    String message =
        switch (rule) {
          case TRANSIENT ->
              what
                  + ", so a dynamic loss scaler (mixed precision) or a guard skipped those"
                  + " updates; the run went on from finite weights.";
          case IN_A_ROW ->
              String.format(
                  ROOT,
                  "%s, up to %d steps in a row (window %d): updates are being thrown away; a loss"
                      + " scaler halves its scale at each skip, so gradients that stay non-finite"
                      + " this long are non-finite on their own, not just overflow.",
                  what,
                  longestSkippedRun,
                  window);
          case MOSTLY ->
              String.format(
                  ROOT,
                  "%s; after the first %d steps with weight gradients, %d of the next %d were"
                      + " skipped: updates are being thrown away, and the gradients are non-finite"
                      + " on their own, not just overflow.",
                  what,
                  window,
                  lateSkipped,
                  lateGradientSteps);
        };
    return Finding.builder(this)
        .severity(rule == SkipRule.TRANSIENT ? Severity.INFO : Severity.WARNING)
        .at(first.layer(), first.phase())
        .steps(firstSkipped, lastSkipped, skipped)
        .evidence(
            Evidence.builder()
                .put(SKIP_RULE, rule)
                .put(KIND, first.kind())
                .put(SKIPPED_STEPS, skipped)
                .put(LONGEST_SKIPPED_RUN, longestSkippedRun)
                .put(GRADIENT_STEPS, gradientSteps)
                .put(WINDOW, window)
                .build())
        .message(message)
        .suggestedFix(
            rule == SkipRule.TRANSIENT
                ? null
                : "Find where the gradients turn NaN/Inf in float32 (run a few steps without"
                    + " autocast): a log(0), a division by zero, or a loss computed in float16;"
                    + " keep the loss and the softmax in float32")
        .build();
  }

  /**
   * Whether the root is a layer's output (forward or activation row) at the trace's first step,
   * when that step is the run's first (0, or 1 for logs that count from 1): the forward pass ran on
   * the initial weights, before any update, so no update size, learning rate or trained weight made
   * it non-finite. A trace that starts later (a resumed run) does not qualify.
   */
  private boolean beforeFirstUpdate(Root root) {
    return root.layer() >= 0
        && (root.phase() == Phase.FORWARD || root.phase() == Phase.ACTIVATION)
        && root.step() == firstStep
        && firstStep <= 1;
  }

  /**
   * The scale head (its position in {@link #scaleHeads}) whose outputs reached 0 or below at or
   * before the step a non-finite loss was the episode's root: the loss was given a scale it cannot
   * take; the earliest such head, or -1 (also when the root is not the loss).
   */
  private int scaleHeadBefore(Root root) {
    if (root.layer() >= 0 || root.phase() != Phase.LOSS) {
      return -1;
    }
    int found = -1;
    for (int i = 0; i < scaleHeads.length; i++) {
      if (scaleMinStep[i] >= 0
          && scaleMinStep[i] <= root.step()
          && (found < 0 || scaleMinStep[i] < scaleMinStep[found])) {
        found = i;
      }
    }
    return found;
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
    if (beforeFirstUpdate(root)) {
      evidence.put(BEFORE_FIRST_UPDATE, true);
    }
    String value =
        switch (root.statistic()) {
          case MEAN -> Numbers.format(values.mean());
          case NAN_COUNT -> Long.toString(values.nan());
          case INF_COUNT -> Long.toString(values.inf());
          case MAX, MIN -> "non-finite";
        };
    if (updateFrom >= 0) {
      String name = context.layer(root.layer()).name();
      consequences.add(
          0,
          new Consequence(
              root.layer(), name, root.phase(), root.step(), streams.get(rootSlot).occurrences));
      evidence.put(LAST_FINITE_STEP, updateFrom);
      findings.add(
          Finding.builder(this)
              .at(-1, Phase.LOSS)
              .steps(root.step(), lastStep, episodeSteps)
              .evidence(evidence.build())
              .consequences(consequences)
              .message(
                  "The weights of all %d trainable layers recorded at step %d were %s, finite at"
                      + " step %d: an update in between, which the trace did not record, applied"
                      + " a non-finite gradient (the loss or its gradient overflowed), and %s's"
                      + " forward pass ran on them; it spread to %s, and %s had non-finite values"
                      + " up to step %d.",
                  updatedLayers,
                  root.step(),
                  root.kind(),
                  updateFrom,
                  name,
                  Phrases.count(consequences.size() - 1, "other stream", "other streams"),
                  Phrases.count(episodeSteps, "step", "steps"),
                  lastStep)
              .build());
      return;
    }
    int head = scaleHeadBefore(root);
    if (head >= 0) {
      int layer = scaleHeads[head];
      String name = context.layer(layer).name();
      consequences.add(
          0,
          new Consequence(
              -1,
              context.layer(-1).name(),
              root.phase(),
              root.step(),
              streams.get(rootSlot).occurrences));
      evidence.put(SCALE_MIN, scaleMin[head]).put(SCALE_MIN_STEP, scaleMinStep[head]);
      findings.add(
          Finding.builder(this)
              .at(layer, Phase.FORWARD)
              .steps(root.step(), lastStep, episodeSteps)
              .evidence(evidence.build())
              .consequences(consequences)
              .message(
                  "%s first turned %s at step %d (%s %s), after the outputs of %s, a linear head"
                      + " the loss reads as a scale (a std, a sigma), reached %s at step %d: a"
                      + " scale at or below 0 makes the log or the division of a likelihood"
                      + " NaN/Inf; it spread to %s, and %s had non-finite values up to step %d.",
                  Phrases.subject(context.layer(-1).name(), -1, root.phase()),
                  root.kind(),
                  root.step(),
                  root.statistic().wireName(),
                  value,
                  name,
                  Numbers.format(scaleMin[head]),
                  scaleMinStep[head],
                  Phrases.count(consequences.size() - 1, "other stream", "other streams"),
                  Phrases.count(episodeSteps, "step", "steps"),
                  lastStep)
              .suggestedFix(
                  format(
                      ROOT,
                      "Keep %s's outputs above 0: end it in a softplus (or predict a log-scale and"
                          + " take its exp), plus a small floor such as 1e-6",
                      name))
              .build());
      return;
    }
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
