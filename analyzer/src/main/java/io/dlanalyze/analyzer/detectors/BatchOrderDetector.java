package io.dlanalyze.analyzer.detectors;

import static io.dlanalyze.analyzer.EvidenceKeys.ACCURACY_PAIRS;
import static io.dlanalyze.analyzer.EvidenceKeys.BATCH_SIZE;
import static io.dlanalyze.analyzer.EvidenceKeys.DISPERSION;
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
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;

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
 * <p>Needs the batch size ({@code dltrace.batch_size}) and a per-step accuracy: at least {@value
 * #MIN_PAIRS} pairs in the band. Pairs that touch the last recorded batch of an epoch are left out:
 * it may hold only the remainder of the data. Data that must be read in order (a stateful recurrent
 * model over a text cut into consecutive windows) are not random samples either; there the finding
 * describes the data, and shuffling is not the fix. The recorders write the accuracy of each batch
 * (the Keras recorder undoes Keras' running mean); an accuracy logged as a running mean varies
 * less, which can only hide the finding. Recording every N steps leaves the statistic unbiased.
 */
@DetectorSpec(
    id = DetectorIds.BATCH_ORDER,
    symptom = Symptom.OSCILLATION,
    judgesProgress = true,
    severity = Severity.WARNING,
    summary =
        "The per-batch accuracy varies far more than random batches explain: the data are not"
            + " shuffled",
    source = "binomial sampling variance of a batch's accuracy (docs/references.md#batch-order)",
    thresholds = {"batch-dispersion"})
public final class BatchOrderDetector implements Detector {
  /** Pairs of consecutive batches in the accuracy band needed to judge. */
  static final int MIN_PAIRS = 20;

  /** Recorded accuracies on each side of a pair that make its local accuracy. */
  private static final int HALF_WINDOW = 5;

  private static final double LOW = 0.15;
  private static final double HIGH = 0.85;

  private double threshold;
  private int batchSize;
  private double[] accuracy = new double[64];
  private long[] steps = new long[64];
  private int[] epochs = new int[64];
  private int size;

  @Override
  public void begin(AnalysisContext context) {
    threshold = context.options().get(Thresholds.BATCH_DISPERSION);
    OptionalInt batch = context.metadata().batchSize();
    batchSize = batch.isPresent() && batch.getAsInt() > 0 ? batch.getAsInt() : 0;
  }

  @Override
  public void observe(StepView step) {
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

  @Override
  public List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    if (batchSize == 0 || size < 2 * HALF_WINDOW + 2) {
      return findings;
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
      return findings;
    }
    double dispersion = observed / expected;
    if (dispersion < threshold) {
      return findings;
    }
    findings.add(
        Finding.builder(this)
            .at(-1, Phase.ACCURACY)
            .steps(steps[first], steps[last], pairs)
            .evidence(
                Evidence.builder()
                    .put(DISPERSION, dispersion)
                    .put(ACCURACY_PAIRS, (long) pairs)
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
                    Numbers.format(dispersion),
                    batchSize,
                    pairs,
                    steps[first],
                    steps[last]))
            .build());
    return findings;
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
