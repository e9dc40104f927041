package io.dlanalyze.analyzer;

import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.util.ArrayList;
import java.util.List;

/** Test helpers: analyse synthetic and hand-written ({@link MemoryTrace}) traces in memory. */
public final class Analyses {
  private Analyses() {}

  /** A synthetic trace: 6 layers, 1000 steps, 100 steps per epoch, seed 1, with the faults. */
  public static SyntheticTrace trace(Fault... faults) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(6).steps(1_000).stepsPerEpoch(100).seed(1);
    for (Fault fault : faults) {
      builder.fault(fault);
    }
    return builder.build();
  }

  public static Report analyze(SyntheticTrace trace) {
    return analyze(trace, AnalysisOptions.defaults());
  }

  public static Report analyze(SyntheticTrace trace, AnalysisOptions options) {
    return analyze(trace, options, ReadOptions.DEFAULT_BATCH_ROWS);
  }

  public static Report analyze(SyntheticTrace trace, AnalysisOptions options, int batchRows) {
    Analyzer analyzer = new Analyzer();
    try (TraceReader reader =
        trace.open(new ReadOptions(analyzer.projection(options), batchRows))) {
      return analyzer.analyze(reader, options).withoutTiming();
    }
  }

  public static Report analyze(MemoryTrace trace, AnalysisOptions options) {
    return analyze(trace, options, 4096);
  }

  public static Report analyze(MemoryTrace trace, AnalysisOptions options, int batchRows) {
    try (TraceReader reader = trace.open(batchRows)) {
      return new Analyzer().analyze(reader, options).withoutTiming();
    }
  }

  /**
   * The findings of one detector, with default thresholds, on a hand-written trace ({@link
   * MemoryTrace#scripted} or {@link MemoryTrace#builder}).
   */
  public static List<Finding> findings(MemoryTrace.Builder trace, String detectorId) {
    return analyze(trace.build(), only(detectorId)).findings();
  }

  /**
   * Analyses a synthetic trace whose {@code dltrace.layers} entry of {@code layer} says
   * trainable=false.
   */
  public static Report analyzeFrozen(SyntheticTrace trace, int layer, AnalysisOptions options) {
    List<LayerInfo> layers = new ArrayList<>();
    for (LayerInfo info : trace.metadata().layers()) {
      layers.add(
          info.index() == layer
              ? new LayerInfo(
                  info.index(), info.name(), info.type(), info.activation(), info.params(), false)
              : info);
    }
    TraceMetadata metadata =
        trace.metadata().with(TraceMetadata.LAYERS, TraceMetadata.layersJson(layers));
    return analyze(MemoryTrace.of(trace).withMetadata(metadata), options);
  }

  /** Options of deeplocalize mode. */
  public static AnalysisOptions deeplocalize() {
    return AnalysisOptions.builder().mode(AnalysisMode.DEEPLOCALIZE).build();
  }

  /** Default options restricted to one detector. */
  public static AnalysisOptions only(String detectorId) {
    return AnalysisOptions.builder().enableOnly(List.of(detectorId)).build();
  }
}
