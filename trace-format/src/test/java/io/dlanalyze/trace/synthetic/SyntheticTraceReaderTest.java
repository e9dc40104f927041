package io.dlanalyze.trace.synthetic;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceReader;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class SyntheticTraceReaderTest {

  /** One row flattened to text, for order-sensitive comparison across batch sizes. */
  private static List<String> rows(SyntheticTrace trace, int batchRows) {
    List<String> out = new ArrayList<>();
    try (TraceReader reader = trace.open(ReadOptions.all().withBatchRows(batchRows))) {
      TraceBatch b = reader.batch();
      while (reader.next()) {
        for (int i = 0; i < b.size(); i++) {
          out.add(
              b.longs(Column.STEP)[i]
                  + "|"
                  + b.ints(Column.LAYER_INDEX)[i]
                  + "|"
                  + reader.dictionary().phaseName(b.ints(Column.PHASE)[i])
                  + "|"
                  + b.doubles(Column.MEAN)[i]
                  + "|"
                  + b.doubles(Column.STD)[i]
                  + "|"
                  + b.longs(Column.NAN_COUNT)[i]
                  + "|"
                  + b.isNull(Column.LAYER_TYPE, i));
        }
      }
    }
    return out;
  }

  @Test
  void next_anyBatchSize_givesTheSameRows() {
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(4).steps(50).seed(3).fault(Fault.nan(2, 20)).build();
    List<String> whole = rows(trace, 100_000);
    assertThat(whole).hasSize((int) trace.totalRows()).hasSize(50 * 22);
    assertThat(rows(trace, 1)).isEqualTo(whole);
    assertThat(rows(trace, 7)).isEqualTo(whole);
  }

  @Test
  void sameSeed_sameRows_otherSeed_otherRows() {
    var a = SyntheticTrace.builder().layers(3).steps(20).seed(5).build();
    var b = SyntheticTrace.builder().layers(3).steps(20).seed(5).build();
    var c = SyntheticTrace.builder().layers(3).steps(20).seed(6).build();
    assertThat(rows(a, 64)).isEqualTo(rows(b, 64)).isNotEqualTo(rows(c, 64));
  }

  @Test
  void healthy_neverZeroNeverRepeated_exceptSoftmaxMean() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(3).steps(200).numClasses(4).build();
    double[][] previous = new double[3][Phase.COUNT];
    int softmaxRows = 0;
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      TraceBatch b = reader.batch();
      while (reader.next()) {
        for (int i = 0; i < b.size(); i++) {
          int layer = b.ints(Column.LAYER_INDEX)[i];
          int phase = b.ints(Column.PHASE)[i];
          double mean = b.doubles(Column.MEAN)[i];
          assertThat(Double.isFinite(mean)).isTrue();
          if (layer == 2 && phase == Phase.ACTIVATION.code()) {
            assertThat(mean).isEqualTo(0.25);
            softmaxRows++;
            continue;
          }
          assertThat(mean).isNotZero();
          if (layer >= 0) {
            assertThat(mean).isNotEqualTo(previous[layer][phase]);
            previous[layer][phase] = mean;
          }
        }
      }
    }
    assertThat(softmaxRows).isEqualTo(200);
  }

  @Test
  void nanFault_bornInLayer_spreadsDownstreamAndBackward_thenEverywhere() {
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(5).steps(40).seed(9).fault(Fault.nan(3, 30)).build();
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      TraceBatch b = reader.batch();
      while (reader.next()) {
        for (int i = 0; i < b.size(); i++) {
          long step = b.longs(Column.STEP)[i];
          int layer = b.ints(Column.LAYER_INDEX)[i];
          Phase phase = Phase.ofCode(b.ints(Column.PHASE)[i]);
          double mean = b.doubles(Column.MEAN)[i];
          boolean expectNan =
              step > 30 && phase != Phase.ACCURACY
                  || step == 30
                      && switch (phase) {
                        case FORWARD, ACTIVATION -> layer >= 3;
                        case LOSS, BACKWARD, GRADIENT, WEIGHT -> true;
                        default -> false;
                      };
          assertThat(Double.isNaN(mean))
              .as("step %d layer %d %s", step, layer, phase)
              .isEqualTo(expectNan);
          if (expectNan) {
            assertThat(b.longs(Column.NAN_COUNT)[i]).isEqualTo(b.longs(Column.NUMEL)[i]);
          }
        }
      }
    }
  }

  @Test
  void projection_loadsOnlyAskedColumns() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(2).steps(5).build();
    try (TraceReader reader =
        trace.open(ReadOptions.columns(EnumSet.of(Column.STEP, Column.PHASE, Column.MEAN)))) {
      assertThat(reader.next()).isTrue();
      assertThat(reader.batch().has(Column.MEAN)).isTrue();
      assertThat(reader.batch().has(Column.STD)).isFalse();
      assertThatThrownBy(() -> reader.batch().doubles(Column.STD))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("column std is not loaded in this batch");
    }
  }

  @Test
  void parse_cliSpellings() {
    assertThat(Fault.parse("nan:3:1234")).isEqualTo(Fault.nan(3, 1234));
    assertThat(Fault.parse("exploding:100")).isEqualTo(Fault.explodingGradient(100, 1.5));
    assertThat(Fault.parse("plateau:50")).isEqualTo(Fault.lossPlateau(50));
    assertThatThrownBy(() -> Fault.parse("nan:x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("bad fault spec 'nan:x'");
  }
}
