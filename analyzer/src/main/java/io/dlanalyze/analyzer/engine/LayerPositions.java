package io.dlanalyze.analyzer.engine;

import java.util.Arrays;

/**
 * Dense positions 0, 1, 2... for the layer indexes that have rows, in order of first appearance:
 * the engine keeps per-layer and per-slot state by position, so its memory follows the layers a
 * trace holds, not its largest layer index (one row of layer 1,000,000 costs one position). The
 * index-to-position table is one int per index up to the largest one seen, at most {@link
 * StepTable#MAX_LAYER_INDEX} + 1.
 */
final class LayerPositions {
  /** Per layer index: its position + 1, or 0 when it has none. */
  private int[] byIndex = new int[0];

  private int[] indexes = new int[16];
  private int count;

  /** The position of a layer index (>= 0), or -1 when it has no rows so far. */
  int of(int layer) {
    return layer < byIndex.length ? byIndex[layer] - 1 : -1;
  }

  /** The position of a layer index (0 to {@link StepTable#MAX_LAYER_INDEX}), given one if new. */
  int assign(int layer) {
    if (layer >= byIndex.length) {
      int n = Math.max(layer + 1, Math.min(StepTable.MAX_LAYER_INDEX + 1, 2 * byIndex.length));
      byIndex = Arrays.copyOf(byIndex, n);
    }
    int position = byIndex[layer] - 1;
    if (position >= 0) {
      return position;
    }
    if (count == indexes.length) {
      indexes = Arrays.copyOf(indexes, 2 * count);
    }
    indexes[count] = layer;
    byIndex[layer] = ++count;
    return count - 1;
  }

  /** The layer index at a position. */
  int index(int position) {
    return indexes[position];
  }

  /** Positions handed out so far. */
  int count() {
    return count;
  }
}
