package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.ACCURACY_PAIRS;
import static io.dlanalyze.analyzer.EvidenceKeys.BATCH_SIZE;
import static io.dlanalyze.analyzer.EvidenceKeys.DISPERSION;
import static io.dlanalyze.analyzer.EvidenceKeys.SINGLE_CLASS_BATCHES;
import static io.dlanalyze.analyzer.EvidenceKeys.SINGLE_CLASS_CLASSES;
import static io.dlanalyze.analyzer.EvidenceKeys.TARGET_BATCHES;
import static io.dlanalyze.analyzer.EvidenceKeys.THRESHOLD;
import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.DetectorIds;
import io.dlanalyze.analyzer.DetectorSpec;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Symptom;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Reports batches that are not random samples of the training data: the per-batch accuracy changes
 * from one recorded batch to the next far more than drawing a batch explains.
 *
 * <p>A batch of B examples drawn at random from data the model classifies correctly with
 * probability p has an accuracy with variance p(1 - p) / B (a binomial share). Half the squared
 * difference of two consecutive batch accuracies estimates that variance without the slow trend of
 * learning; p is the local accuracy, the mean of the 11 recorded accuracies around the pair. The
 * statistic is the sum of the halved squared differences over the sum of p(1 - p) / B, over the
 * pairs whose local accuracy is between 0.15 and 0.85 (near 0 or 1 the binomial variance is too
 * small to compare with). When each batch holds one class (data sorted by label and never shuffled,
 * or batched before it was shuffled), the model predicts the class of the last batches and the
 * accuracy jumps between about 0 and 1: the ratio approaches B. Healthy runs stay near 1
 * (docs/evaluation.md#calibration: the highest of a healthy dev run is 2.85).
 *
 * <p>The targets say the same more directly, when they are class ids (whole numbers from 0 up) and
 * a batch holds at least {@value #MIN_EXAMPLES} of them: a batch whose targets are all one class
 * (min = max) is rare under random sampling, and one of a class other than the most common is rarer
 * still: with two or more classes, every class but the most common has a share of at most one half
 * (or no class has more), so a random batch of n examples is one class other than the most common
 * with probability at most 2^-(n - 1). Batches of one class each, in two or more classes, {@value
 * #SINGLE_CLASS_MARGIN} times as many as that bound allows over the recorded batches (and at least
 * {@value #MIN_SINGLE_CLASS}), are the same finding. No healthy dev run has a single-class batch of
 * two different classes.
 *
 * <p>Needs the batch size ({@code dltrace.batch_size}) and a per-step accuracy: at least {@value
 * #MIN_PAIRS} pairs in the band; or the target phase's min, max and numel. Pairs that touch the
 * last recorded batch of an epoch are left out: it may hold only the remainder of the data. Data
 * that must be read in order (a stateful recurrent model over a text cut into consecutive windows)
 * are not random samples either; there the finding describes the data, and shuffling is not the
 * fix. The recorders write the accuracy of each batch (the Keras recorder undoes Keras' running
 * mean); an accuracy logged as a running mean varies less, which can only hide the finding.
 * Recording every N steps leaves the statistic unbiased.
 */
@DetectorSpec(
    id = DetectorIds.BATCH_ORDER,
    symptom = Symptom.OSCILLATION,
    judgesProgress = true,
    severity = Severity.WARNING,
    summary =
        "The per-batch accuracy varies far more than random batches explain, or batches hold"
            + " one class each: the data are not shuffled",
    source =
        "binomial sampling variance of a batch's accuracy; the chance of a random batch of one"
            + " class (docs/references.md#batch-order)",
    thresholds = {"batch-dispersion"},
    columns = {Column.MEAN, Column.MIN, Column.MAX, Column.NUMEL})
public final class BatchOrderDetector implements Detector {
  /** Pairs of consecutive batches in the accuracy band needed to judge. */
  static final int MIN_PAIRS = 20;

  /** Recorded accuracies on each side of a pair that make its local accuracy. */
  private static final int HALF_WINDOW = 5;

  /** Targets per batch below which a batch of one class is not rare enough to judge. */
  static final int MIN_EXAMPLES = 8;

  /** Batches of one class, other than the most common one's, needed at the least. */
  static final int MIN_SINGLE_CLASS = 3;

  /** How many times the most random batches could give. */
  static final int SINGLE_CLASS_MARGIN = 4;

  private static final double LOW = 0.15;
  private static final double HIGH = 0.85;

  private double threshold;
  private int batchSize;
  private double[] accuracy = new double[64];
  private long[] steps = new long[64];
  private int[] epochs = new int[64];
  private int size;

  /** Target rows seen; false once a row is not a batch of class ids of at least MIN_EXAMPLES. */
  private boolean classIds = true;

  private long targetBatches;
  private int fewestExamples = Integer.MAX_VALUE;

  /** Batches whose targets were all one class, by that class. */
  private final Map<Long, Long> singleClass = new TreeMap<>();

  private long firstSingle = -1;
  private long lastSingle = -1;

  @Override
  public void begin(AnalysisContext context) {
    threshold = context.options().get(Thresholds.BATCH_DISPERSION);
    OptionalInt batch = context.metadata().batchSize();
    batchSize = batch.isPresent() && batch.getAsInt() > 0 ? batch.getAsInt() : 0;
  }

  @Override
  public void observe(StepView step) {
    if (classIds && step.has(-1, Phase.TARGET)) {
      observeTargets(step);
    }
    if (batchSize == 0 || !step.has(-1, Phase.ACCURACY)) {
      return;
    }
    double a = step.mean(-1, Phase.ACCURACY);
    if (!(a >= 0 && a <= 1)) {
      return;
    }
    if (size == accuracy.length) {
      accuracy = Arrays.copyOf(accuracy, size * 2);
      steps = Arrays.copyOf(steps, size * 2);
      epochs = Arrays.copyOf(epochs, size * 2);
    }
    accuracy[size] = a;
    steps[size] = step.step();
    epochs[size] = step.epoch();
    size++;
  }

  /** Counts a batch of class ids whose targets are all one class; stops at anything else. */
  private void observeTargets(StepView step) {
    if (!step.present(-1, Phase.TARGET, Column.MIN)
        || !step.present(-1, Phase.TARGET, Column.MAX)) {
      classIds = false; // a mean alone cannot tell a batch of one class
      return;
    }
    double lo = step.value(-1, Phase.TARGET, Column.MIN);
    double hi = step.value(-1, Phase.TARGET, Column.MAX);
    long examples = step.count(-1, Phase.TARGET, Column.NUMEL);
    if (examples < 0) {
      examples = batchSize;
    }
    if (!(lo >= 0)
        || !(hi < Long.MAX_VALUE)
        || lo != Math.rint(lo)
        || hi != Math.rint(hi)
        || examples < MIN_EXAMPLES) {
      classIds = false;
      return;
    }
    targetBatches++;
    fewestExamples = (int) Math.min(fewestExamples, examples);
    if (lo == hi) {
      singleClass.merge((long) lo, 1L, Long::sum);
      firstSingle = firstSingle < 0 ? step.step() : firstSingle;
      lastSingle = step.step();
    }
  }

  /**
   * The batches of one class each, when two or more classes have them and those of the classes
   * other than the most common one are at least {@link #SINGLE_CLASS_MARGIN} times what random
   * batches could give; null otherwise.
   */
  private @Nullable SingleClass singleClassBatches() {
    if (!classIds || singleClass.size() < 2) {
      return null;
    }
    long all = 0;
    long most = 0;
    for (long count : singleClass.values()) {
      all += count;
      most = Math.max(most, count);
    }
    long others = all - most;
    double bound = targetBatches * Math.pow(2, -(fewestExamples - 1));
    if (others < MIN_SINGLE_CLASS || others < SINGLE_CLASS_MARGIN * bound) {
      return null;
    }
    return new SingleClass(all, others);
  }

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    SingleClass single = singleClassBatches();
    Dispersed dispersed = dispersion();
    if (dispersed != null && single == null) {
      findings.add(dispersionFinding(dispersed));
    } else if (single != null) {
      findings.add(oneClassBatches(single, dispersed));
    }
    return findings;
  }

  /** Batches of one class each: all of them, and those of a class other than the most common. */
  private record SingleClass(long all, long others) {}

  private Finding oneClassBatches(SingleClass single, @Nullable Dispersed dispersed) {
    StringBuilder classes = new StringBuilder();
    for (Map.Entry<Long, Long> entry : singleClass.entrySet()) {
      if (classes.length() > 0) {
        classes.append(", ");
      }
      classes.append(format(ROOT, "class %d: %d", entry.getKey(), entry.getValue()));
    }
    Evidence.Builder evidence =
        Evidence.builder()
            .put(SINGLE_CLASS_BATCHES, single.all())
            .put(TARGET_BATCHES, targetBatches)
            .put(SINGLE_CLASS_CLASSES, (long) singleClass.size());
    if (dispersed != null) {
      evidence
          .put(DISPERSION, dispersed.ratio())
          .put(ACCURACY_PAIRS, (long) dispersed.pairs())
          .put(BATCH_SIZE, (long) batchSize)
          .put(THRESHOLD, threshold);
    }
    return Finding.builder(this)
        .at(-1, Phase.TARGET)
        .steps(firstSingle, lastSingle, single.all())
        .evidence(evidence.build())
        .message(
            format(
                ROOT,
                "%d of the %d recorded batches held targets of one class only, in %d different"
                    + " classes (%s): batches of %d or more examples drawn at random give one"
                    + " class other than the most common one at most once in %s, here %d times:"
                    + " the data are ordered by class and not shuffled.%s",
                single.all(),
                targetBatches,
                singleClass.size(),
                classes,
                fewestExamples,
                fewestExamples <= 31
                    ? Long.toString(1L << (fewestExamples - 1))
                    : "2^" + (fewestExamples - 1),
                single.others(),
                dispersed == null
                    ? ""
                    : format(
                        ROOT,
                        " The accuracy changed from one batch to the next %sx as much as random"
                            + " batches explain.",
                        Numbers.format(dispersed.ratio()))))
        .build();
  }

  /** The accuracy dispersion over the pairs in the band, and where they start and end. */
  private record Dispersed(double ratio, int pairs, long from, long to) {}

  /** The accuracy-dispersion rule's statistic when it reaches the threshold; null otherwise. */
  private @Nullable Dispersed dispersion() {
    if (batchSize == 0 || size < 2 * HALF_WINDOW + 2) {
      return null;
    }
    double[] prefix = new double[size + 1];
    for (int i = 0; i < size; i++) {
      prefix[i + 1] = prefix[i] + accuracy[i];
    }
    double observed = 0;
    double expected = 0;
    int pairs = 0;
    int first = -1;
    int last = -1;
    // A pair (i - 1, i) with a full window of 2 * HALF_WINDOW + 1 accuracies around each of both.
    for (int i = HALF_WINDOW + 1; i < size - HALF_WINDOW; i++) {
      if (lastOfItsEpoch(i - 1) || lastOfItsEpoch(i)) {
        // An epoch's last batch may be short (the remainder of the data), and its accuracy
        // varies more than B examples' would.
        continue;
      }
      double local = (localMean(prefix, i - 1) + localMean(prefix, i)) / 2;
      if (local <= LOW || local >= HIGH) {
        continue;
      }
      double d = accuracy[i] - accuracy[i - 1];
      observed += d * d / 2;
      expected += local * (1 - local) / batchSize;
      pairs++;
      first = first < 0 ? i - 1 : first;
      last = i;
    }
    if (pairs < MIN_PAIRS || !(expected > 0)) {
      return null;
    }
    double dispersion = observed / expected;
    if (dispersion < threshold) {
      return null;
    }
    return new Dispersed(dispersion, pairs, steps[first], steps[last]);
  }

  private Finding dispersionFinding(Dispersed dispersed) {
    return Finding.builder(this)
        .at(-1, Phase.ACCURACY)
        .steps(dispersed.from(), dispersed.to(), dispersed.pairs())
        .evidence(
            Evidence.builder()
                .put(DISPERSION, dispersed.ratio())
                .put(ACCURACY_PAIRS, (long) dispersed.pairs())
                .put(BATCH_SIZE, (long) batchSize)
                .put(THRESHOLD, threshold)
                .build())
        .message(
            format(
                ROOT,
                "The accuracy changed from one batch to the next %sx as much as drawing %d"
                    + " examples at random explains (over %d pairs of batches between step %d"
                    + " and step %d): the batches are not random samples of the data, as when"
                    + " the data are sorted by class and not shuffled.",
                Numbers.format(dispersed.ratio()),
                batchSize,
                dispersed.pairs(),
                dispersed.from(),
                dispersed.to()))
        .build();
  }

  private boolean lastOfItsEpoch(int i) {
    return i + 1 < size && epochs[i + 1] != epochs[i];
  }

  private double localMean(double[] prefix, int center) {
    int from = center - HALF_WINDOW;
    int to = center + HALF_WINDOW + 1;
    return (prefix[to] - prefix[from]) / (to - from);
  }
}
