package io.dlanalyze.analyzer.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.Analyses;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The analysis' memory follows the layers a trace holds, not its largest layer index: a layer index
 * at the format's limit (1,048,576) or hundreds of thousands of listed layers cost what they hold.
 * Measured as the bytes the analysis allocates on its thread (no read-ahead thread), not as time.
 */
class LayerIndexMemoryTest {
  private static final long MB = 1 << 20;
  private static final AnalysisOptions OPTIONS =
      AnalysisOptions.defaults().toBuilder().readAhead(false).build();

  private static <T> T measured(Supplier<T> work, long[] bytes) {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = threads.getCurrentThreadAllocatedBytes();
    T result = work.get();
    bytes[0] = threads.getCurrentThreadAllocatedBytes() - before;
    return result;
  }

  private static MemoryTrace.Builder rows(int farLayer) {
    MemoryTrace.Builder rows = MemoryTrace.builder();
    for (long step = 0; step < 200; step++) {
      rows.model(step, Phase.LOSS, 2.0 - step * 0.005);
      rows.layer(step, 0, "fc0", "Linear", Phase.FORWARD, 0.5);
      rows.layer(step, farLayer, "head", "Linear", Phase.FORWARD, step < 150 ? 0.25 : Double.NaN);
    }
    return rows;
  }

  @Test
  void rowsAtTheLargestLayerIndex_memoryOfTwoLayers_reportShowsTheRealIndex() {
    MemoryTrace trace = rows(1_048_576).build();
    long[] bytes = new long[1];

    Report report = measured(() -> Analyses.analyze(trace, OPTIONS), bytes);

    assertThat(bytes[0]).as("bytes allocated").isLessThan(64 * MB);
    assertThat(report.trace().layers()).extracting(Layer::index).containsExactly(0, 1_048_576);
    assertThat(report.topFinding().orElseThrow().layerIndex()).isEqualTo(1_048_576);
    assertThat(report.topFinding().orElseThrow().layerName()).isEqualTo("head");
    assertThat(report.rootCause().cause()).contains("head's forward pass first turned NaN");
  }

  @Test
  void manyListedLayers_twoWithRows_memoryOfTheListNotOfLayersTimesState() {
    List<LayerInfo> listed = new ArrayList<>();
    for (int i = 0; i < 300_000; i++) {
      listed.add(new LayerInfo(i, "l" + i, "Linear", "relu", 10, true));
    }
    TraceMetadata metadata =
        TraceMetadata.empty().with(TraceMetadata.LAYERS, TraceMetadata.layersJson(listed));
    MemoryTrace trace = rows(7).metadata(metadata).build();
    long[] bytes = new long[1];

    Report report = measured(() -> Analyses.analyze(trace, OPTIONS), bytes);

    assertThat(bytes[0]).as("bytes allocated").isLessThan(128 * MB);
    assertThat(report.trace().layers()).hasSize(300_000);
    assertThat(report.topFinding().orElseThrow().layerIndex()).isEqualTo(7);
  }
}
