package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.trace.Phase;
import java.util.List;

/** What the layers' order says about a layer, for the detectors that need its neighbours. */
final class LayerOrder {
  private LayerOrder() {}

  /**
   * True when the next layer after {@code layer} (by index) that has weights or normalizes is a
   * normalization layer: it undoes the scale of its input, whatever that scale is (activation and
   * dropout layers between them pass the scale on). A layer has weights when the trace has weight
   * rows for it; without any, every later normalization layer counts.
   */
  static boolean feedsNormalization(AnalysisContext context, int layer) {
    List<Layer> all = context.layers();
    int from = Layer.position(all, layer);
    for (int i = from + 1; from >= 0 && i < all.size(); i++) {
      Layer next = all.get(i);
      if (next.isNormalization()) {
        return true;
      }
      if (context.slot(next.index(), Phase.WEIGHT) >= 0) {
        return false;
      }
    }
    return false;
  }
}
