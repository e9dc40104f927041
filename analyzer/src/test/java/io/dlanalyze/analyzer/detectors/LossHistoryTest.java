package io.dlanalyze.analyzer.detectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import org.junit.jupiter.api.Test;

class LossHistoryTest {
  /** A step with only a model-level loss row (NaN: the row is there, its loss is not finite). */
  private record LossStep(long step, double loss) implements StepView {
    @Override
    public AnalysisContext context() {
      throw new UnsupportedOperationException();
    }

    @Override
    public long ordinal() {
      return step;
    }

    @Override
    public int epoch() {
      return (int) (step / 100);
    }

    @Override
    public int batch() {
      return (int) (step % 100);
    }

    @Override
    public int layerCount() {
      return 0;
    }

    @Override
    public Layer layer(int index) {
      throw new IndexOutOfBoundsException(index);
    }

    @Override
    public boolean has(int layer, Phase phase) {
      return layer == -1 && phase == Phase.LOSS;
    }

    @Override
    public boolean present(int layer, Phase phase, Column column) {
      return has(layer, phase) && column == Column.MEAN;
    }

    @Override
    public double value(int layer, Phase phase, Column column) {
      return present(layer, phase, column) ? loss : Double.NaN;
    }

    @Override
    public long count(int layer, Phase phase, Column column) {
      return 0;
    }

    @Override
    public int presentMask(int slot) {
      return 0;
    }

    @Override
    public double[] doubles(Column column) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long[] longs(Column column) {
      throw new UnsupportedOperationException();
    }
  }

  /** A context of its own: only its identity matters to {@link LossHistory#of}. */
  private static final class Context implements AnalysisContext {
    @Override
    public AnalysisOptions options() {
      return AnalysisOptions.defaults();
    }

    @Override
    public TraceMetadata metadata() {
      throw new UnsupportedOperationException();
    }

    @Override
    public int layerCount() {
      return 0;
    }

    @Override
    public Layer layer(int index) {
      throw new IndexOutOfBoundsException(index);
    }

    @Override
    public long stepCount() {
      return 0;
    }

    @Override
    public int epochOf(long step) {
      return -1;
    }

    @Override
    public int batchOf(long step) {
      return -1;
    }
  }

  @Test
  void stepAndIndexAtOrAfter_gapsAndNonFiniteLosses_sameAsOneStepPerLoss() {
    // steps 0-9, a NaN at 10, 11-14, then every 10th step from 100 to 150
    LossHistory history = new LossHistory();
    long[] expected = new long[32];
    int n = 0;
    for (long s = 0; s < 15; s++) {
      history.observe(new LossStep(s, s == 10 ? Double.NaN : 2.0 - 0.01 * s));
      if (s != 10) {
        expected[n++] = s;
      }
    }
    for (long s = 100; s <= 150; s += 10) {
      history.observe(new LossStep(s, 1.0));
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
  void observe_sameStepTwice_recordedOnce() {
    LossHistory history = new LossHistory();

    history.observe(new LossStep(0, 2.0));
    history.observe(new LossStep(0, 2.0));
    history.observe(new LossStep(1, 1.9));

    assertThat(history.size()).isEqualTo(2);
    assertThat(history.mean(0, 2)).isEqualTo(1.95);
  }

  @Test
  void of_oneHistoryPerAnalysisContext() {
    Context first = new Context();
    Context second = new Context();

    assertThat(LossHistory.of(first))
        .isSameAs(LossHistory.of(first))
        .isNotSameAs(LossHistory.of(second));
  }
}
