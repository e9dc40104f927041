package io.dlanalyze.analyzer.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LossRecorderTest {
  @Test
  void peakLearningRate_isTheLargestFinitePositiveRow_orNaNWithoutOne() {
    LossRecorder history = new LossRecorder();
    assertThat(history.peakLearningRate()).isNaN();

    long step = 0;
    for (double rate : new double[] {1e-4, 0.05, Double.NaN, 0.3, Double.POSITIVE_INFINITY, 0.01}) {
      history.recordLearningRate(step++, rate);
    }
    history.recordLearningRate(step, -1);

    assertThat(history.peakLearningRate()).isEqualTo(0.3);
  }

  @Test
  void learningRateAt_isTheLastRowAtOrBeforeTheStep_keptWhereTheRateChanges() {
    LossRecorder history = new LossRecorder();
    assertThat(history.learningRateAt(0)).isNaN();
    // a step schedule: 0.1 for steps 10-39, 0.01 for 40-69, 0.001 from 70; rows every 2nd step
    for (long s = 10; s < 100; s += 2) {
      history.recordLearningRate(s, s < 40 ? 0.1 : s < 70 ? 0.01 : 0.001);
    }
    // and a cosine-like tail that changes at every step, past the initial capacity
    for (long s = 100; s < 200; s++) {
      history.recordLearningRate(s, 0.001 / (s - 98));
    }

    assertThat(history.learningRateAt(9)).isNaN();
    assertThat(history.learningRateAt(10)).isEqualTo(0.1);
    assertThat(history.learningRateAt(39)).isEqualTo(0.1);
    assertThat(history.learningRateAt(40)).isEqualTo(0.01);
    assertThat(history.learningRateAt(69)).isEqualTo(0.01);
    assertThat(history.learningRateAt(70)).isEqualTo(0.001);
    assertThat(history.learningRateAt(99)).isEqualTo(0.001);
    assertThat(history.learningRateAt(150)).isEqualTo(0.001 / 52);
    assertThat(history.learningRateAt(10_000)).isEqualTo(0.001 / 101);
    assertThat(history.peakLearningRate()).isEqualTo(0.1);
  }

  @Test
  void stepAndIndexAtOrAfter_gapsAndNonFiniteLosses_sameAsOneStepPerLoss() {
    // steps 0-9, a NaN at 10, 11-14, then every 10th step from 100 to 150
    LossRecorder history = new LossRecorder();
    long[] expected = new long[32];
    int n = 0;
    for (long s = 0; s < 15; s++) {
      history.record(s, (int) (s / 100), true, s == 10 ? Double.NaN : 2.0 - 0.01 * s, false, 0);
      if (s != 10) {
        expected[n++] = s;
      }
    }
    for (long s = 100; s <= 150; s += 10) {
      history.record(s, (int) (s / 100), true, 1.0, false, 0);
      expected[n++] = s;
    }

    assertThat(history.size()).isEqualTo(n);
    assertThat(history.firstNonFiniteStep()).isEqualTo(10);
    for (int i = 0; i < n; i++) {
      assertThat(history.step(i)).as("step(%d)", i).isEqualTo(expected[i]);
    }
    for (long s = -3; s <= 160; s++) {
      int at = 0;
      while (at < n && expected[at] < s) {
        at++;
      }
      assertThat(history.indexAtOrAfter(s)).as("indexAtOrAfter(%d)", s).isEqualTo(at);
    }
    assertThat(history.loss(10)).isEqualTo(2.0 - 0.01 * 11);
    int size = n;
    assertThatThrownBy(() -> history.step(size)).isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void epochs_countStepsWithALossOrAccuracyRow_meansOfTheFiniteValues() {
    LossRecorder history = new LossRecorder();

    history.record(0, 0, true, 2.0, true, 0.25);
    history.record(1, 0, true, Double.NaN, true, 0.75);
    history.record(2, 1, false, Double.NaN, false, Double.NaN);
    history.record(3, 2, false, Double.NaN, true, 0.5);

    assertThat(history.epochs()).isEqualTo(2);
    assertThat(history.epoch(1)).isEqualTo(2);
    assertThat(history.epochFirstStep(1)).isEqualTo(3);
    assertThat(history.epochLoss(0)).isEqualTo(2.0);
    assertThat(history.epochLoss(1)).isNaN();
    assertThat(history.epochAccuracy(0)).isEqualTo(0.5);
    assertThat(history.hasAccuracy()).isTrue();
    assertThat(history.firstNonFiniteStep()).isEqualTo(1);
  }

  private static LossRecorder losses(double... values) {
    LossRecorder history = new LossRecorder();
    for (int s = 0; s < values.length; s++) {
      history.record(s, 0, true, values[s], false, 0);
    }
    return history;
  }

  @Test
  void learned_positiveLoss_halvedIsLearned_aThirdOffIsNot() {
    assertThat(losses(2, 2, 1, 1).learned(2, 0.5)).isTrue();
    assertThat(losses(3, 3, 2, 2).learned(2, 0.5)).isFalse();
  }

  @Test
  void learned_lossBelowZero_mustFallByHalfItsSize_notMerelyAnyAmount() {
    // a Poisson or Gaussian likelihood without its constant: -4.9 to -6.9 fell by 41% of its size
    assertThat(losses(-4.9, -4.9, -6.9, -6.9).learned(2, 0.5)).isFalse();
    assertThat(losses(-4.9, -4.9, -7.5, -7.5).learned(2, 0.5)).isTrue();
    // rising further is never learning
    assertThat(losses(-4.9, -4.9, -2, -2).learned(2, 0.5)).isFalse();
  }

  @Test
  void stalledAt_flatNegativeLoss_isStalled_fallingOneIsNot() {
    assertThat(losses(-6.9, -6.9, -6.9, -6.9).stalledAt(3, 2, 0.01)).isTrue();
    assertThat(losses(-6.0, -6.0, -6.9, -6.9).stalledAt(3, 2, 0.01)).isFalse();
    assertThat(losses(2, 2, 2, 2).stalledAt(3, 2, 0.01)).isTrue();
    assertThat(losses(2, 2, 1, 1).stalledAt(3, 2, 0.01)).isFalse();
  }
}
