package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.CausalOrder;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;

/**
 * Groups the per-(layer, phase) runs of one detector by layer: the causally earliest run of a layer
 * becomes the finding, the layer's other runs its consequences.
 */
final class LayerGroups {
  /** One qualifying run of a (layer, phase) stream. */
  record Run(
      int layer, Phase phase, long firstStep, long lastStep, long occurrences, long longest) {}

  private LayerGroups() {}

  /**
   * For each layer with runs, in layer order: the root run first, then the others in causal order.
   */
  static List<List<Run>> byLayer(List<Run> runs) {
    List<Run> sorted = new ArrayList<>(runs);
    sorted.sort(
        (a, b) -> {
          int c = Integer.compare(a.layer(), b.layer());
          return c != 0
              ? c
              : CausalOrder.compare(
                  a.firstStep(), a.layer(), a.phase(), b.firstStep(), b.layer(), b.phase());
        });
    List<List<Run>> groups = new ArrayList<>();
    List<Run> current = null;
    for (Run run : sorted) {
      if (current == null || current.get(0).layer() != run.layer()) {
        current = new ArrayList<>();
        groups.add(current);
      }
      current.add(run);
    }
    return groups;
  }

  static List<Consequence> consequences(List<Run> group, AnalysisContext context) {
    List<Consequence> consequences = new ArrayList<>();
    for (int i = 1; i < group.size(); i++) {
      Run run = group.get(i);
      consequences.add(
          new Consequence(
              run.layer(),
              context.layer(run.layer()).name(),
              run.phase(),
              run.firstStep(),
              run.occurrences()));
    }
    return consequences;
  }
}
