package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.Analyses;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongFunction;

/**
 * A small hand-written trace for detector tests: named layers with their activations, and per
 * (phase, layer) a function from the step to the row's statistics. Rows are emitted in the
 * contract's order inside each step.
 */
final class ScriptedTrace {
  /** One row's statistics; null ones are absent. */
  record Stats(
      double mean, Double std, Double min, Double max, Double l2, Double zero, Long numel) {
    static Stats of(double mean, double std) {
      return new Stats(
          mean,
          std,
          mean - 3 * std,
          mean + 3 * std,
          Math.sqrt(mean * mean + std * std) * 10,
          0.0,
          100L);
    }

    static Stats scalar(double value) {
      return new Stats(value, 0.0, value, value, Math.abs(value), value == 0 ? 1.0 : 0.0, 1L);
    }

    /** A tensor of 100 elements with this l2 norm. */
    static Stats norm(double l2) {
      return new Stats(0, l2 / 10, -l2 / 3, l2 / 3, l2, 0.0, 100L);
    }

    Stats withZero(double zeroFraction) {
      return new Stats(mean, std, min, max, l2, zeroFraction, numel);
    }

    Stats withNumel(long n) {
      return new Stats(mean, std, min, max, l2, zero, n);
    }

    Stats withRange(double lo, double hi) {
      return new Stats(mean, std, lo, hi, l2, zero, numel);
    }
  }

  private record Stream(Phase phase, int layer, LongFunction<Stats> stats) {}

  private final int steps;
  private int stepsPerEpoch = 20;
  private final List<LayerInfo> layers = new ArrayList<>();
  private final List<Stream> streams = new ArrayList<>();
  private final Map<String, String> metadata = new LinkedHashMap<>();

  private ScriptedTrace(int steps) {
    this.steps = steps;
    metadata.put(TraceMetadata.VERSION, "1");
  }

  static ScriptedTrace steps(int steps) {
    return new ScriptedTrace(steps);
  }

  ScriptedTrace stepsPerEpoch(int n) {
    this.stepsPerEpoch = n;
    return this;
  }

  ScriptedTrace layer(String name, String activation) {
    layers.add(new LayerInfo(layers.size(), name, "Linear", activation, 100, true));
    return this;
  }

  ScriptedTrace layer(String name, String type, String activation) {
    layers.add(new LayerInfo(layers.size(), name, type, activation, 100, true));
    return this;
  }

  /** A layer whose {@code fan_out} (its number of output units) is known. */
  ScriptedTrace layer(String name, String type, String activation, long fanOut) {
    layers.add(
        new LayerInfo(
            layers.size(), name, type, activation, 100, true, null, true, -1, fanOut, null));
    return this;
  }

  /** A trainable layer whose parameters the optimizer does not hold. */
  ScriptedTrace layerOutsideOptimizer(String name, String activation) {
    layers.add(
        new LayerInfo(
            layers.size(), name, "Linear", activation, 100, true, null, false, -1, -1, null));
    return this;
  }

  ScriptedTrace frozenLayer(String name, String activation) {
    layers.add(new LayerInfo(layers.size(), name, "Linear", activation, 100, false));
    return this;
  }

  ScriptedTrace meta(String key, String value) {
    metadata.put(key, value);
    return this;
  }

  /** A model-level stream (loss, accuracy, input, target, learning_rate). */
  ScriptedTrace model(Phase phase, LongFunction<Stats> stats) {
    streams.add(new Stream(phase, -1, stats));
    return this;
  }

  /** A per-layer stream. */
  ScriptedTrace stream(Phase phase, int layer, LongFunction<Stats> stats) {
    streams.add(new Stream(phase, layer, stats));
    return this;
  }

  /** The same per-layer stream for every layer. */
  ScriptedTrace everyLayer(Phase phase, LayerStats stats) {
    for (int l = 0; l < layers.size(); l++) {
      int layer = l;
      streams.add(new Stream(phase, layer, step -> stats.at(step, layer)));
    }
    return this;
  }

  /** A loss falling from 2.3 to about 0.3 with a little deterministic noise. */
  ScriptedTrace healthyLoss() {
    return model(
        Phase.LOSS,
        step ->
            Stats.scalar(
                0.2 + 2.1 * Math.exp(-4.0 * step / steps) * (1 + 0.05 * Math.sin(step * 1.7))));
  }

  /** A loss that stays around 1.0 with a little noise. */
  ScriptedTrace flatLoss() {
    return model(Phase.LOSS, step -> Stats.scalar(1.0 + 0.01 * Math.sin(step * 1.3)));
  }

  interface LayerStats {
    Stats at(long step, int layer);
  }

  MemoryTrace build() {
    metadata.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(layers));
    List<MemoryTrace.Row> rows = new ArrayList<>();
    for (long step = 0; step < steps; step++) {
      int epoch = (int) (step / stepsPerEpoch);
      int batch = (int) (step % stepsPerEpoch);
      for (Phase phase : Phase.values()) {
        for (Stream stream : streams) {
          if (stream.phase() != phase) {
            continue;
          }
          Stats s = stream.stats().apply(step);
          if (s == null) {
            continue; // no row of this stream at this step
          }
          String name = stream.layer() < 0 ? "model" : layers.get(stream.layer()).name();
          String type = stream.layer() < 0 ? null : layers.get(stream.layer()).type();
          rows.add(
              new MemoryTrace.Row(
                  epoch,
                  batch,
                  step,
                  stream.layer(),
                  name,
                  type,
                  phase.wireName(),
                  s.mean(),
                  s.std(),
                  s.min(),
                  s.max(),
                  s.l2(),
                  s.zero(),
                  0L,
                  0L,
                  s.numel()));
        }
      }
    }
    return MemoryTrace.of(TraceMetadata.of(metadata), rows);
  }

  /** The findings of one detector on this trace, with default thresholds. */
  List<Finding> findings(String detector) {
    return report(Analyses.only(detector)).findings();
  }

  Report report(AnalysisOptions options) {
    return Analyses.analyze(build(), options);
  }
}
