package io.dlanalyze.analyzer.detectors;

import io.dlanalyze.analyzer.AnalysisContext;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.CausalOrder;
import io.dlanalyze.analyzer.Consequence;
import io.dlanalyze.analyzer.Detector;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.analyzer.Thresholds;
import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;

/**
 * A detector that watches every stream (phase) of every layer for one of the engine's
 * classification bits ({@link StepView#ALL_ZERO}, {@link StepView#UNCHANGED}): {@code window} rows
 * in a row with the bit make a run ({@link Run.Policy#ANY}). One finding per layer: the layer's
 * causally earliest run is the finding, its other runs are the consequences. A subclass says which
 * streams it leaves out and words the finding.
 */
abstract class LayerRunsDetector implements Detector {
  /** The qualifying run of one (layer, phase) stream. */
  record Stream(int layer, Phase phase, Run run) {}

  private final int bit;
  private final boolean pairs;
  private final Phase[] phases;
  private AnalysisOptions options;
  private SlotStates<Run> runs;
  private boolean fired;

  /** Streams whose run qualified: each is final once it did. */
  private int qualified;

  /**
   * @param bit the classification bit that continues a run
   * @param pairs true when the bit compares a row with the stream's previous one: a run then starts
   *     at that previous row, and {@code window} rows make {@code window - 1} pairs
   * @param phases the streams of a layer to watch
   */
  LayerRunsDetector(int bit, boolean pairs, Phase... phases) {
    this.bit = bit;
    this.pairs = pairs;
    this.phases = phases.clone();
  }

  /** True for a stream of the layer the detector leaves out. */
  abstract boolean skipped(Layer layer, Phase phase);

  /**
   * Completes a layer's finding, which is at the root stream's layer, phase and steps, with the
   * other streams as consequences: its evidence, message and, where it differs, severity.
   *
   * @param name the layer's name
   * @param others the phases of the layer's other streams, as {@code "gradient, weight"}
   * @param context the analysis, whose loss history is complete by now
   */
  abstract void describe(
      Finding.Builder finding, Stream root, String name, String others, AnalysisContext context);

  /**
   * Called for each layer with rows in a step, before its streams are judged: a subclass may note
   * what the step holds for the layer. Does nothing by default.
   */
  void layerSeen(StepView step, int layer) {}

  /**
   * Whether a present stream holds this detector's condition in the step: its classification bit by
   * default; a subclass may ask more of the step.
   */
  boolean holds(StepView step, int layer, Phase phase, int mask) {
    return (mask & bit) != 0;
  }

  /** The analysis' options, from {@link #begin} on. */
  final AnalysisOptions options() {
    return options;
  }

  @Override
  public final void begin(AnalysisContext context) {
    options = context.options();
    int window = options.getInt(Thresholds.WINDOW);
    int length = pairs ? Math.max(1, window - 1) : window;
    runs = new SlotStates<>(() -> new Run(length, Run.Policy.ANY));
  }

  @Override
  public final int classifications() {
    return bit;
  }

  @Override
  public final void observe(StepView step) {
    for (int i = 0; i < step.presentLayerCount(); i++) {
      int layer = step.presentLayer(i);
      Layer info = step.layer(layer);
      layerSeen(step, layer);
      for (Phase phase : phases) {
        int slot = step.slot(layer, phase);
        int mask = step.presentMask(slot);
        if (mask == 0 || skipped(info, phase)) {
          continue;
        }
        boolean holds = holds(step, layer, phase, mask);
        Run run = holds ? runs.at(slot) : runs.find(slot);
        long start = pairs ? step.previousStep(slot) : step.step();
        boolean before = run != null && run.qualified();
        if (run != null && run.observe(step.step(), holds, start, null)) {
          fired = true;
          qualified += before ? 0 : 1;
        }
      }
    }
  }

  @Override
  public final boolean fired() {
    return fired;
  }

  /** A stream's qualified run stays in the report, so each one is conclusive at once. */
  @Override
  public final int conclusive() {
    return qualified;
  }

  @Override
  public final List<Finding> finish(AnalysisContext context) {
    List<Finding> findings = new ArrayList<>();
    List<Stream> group = new ArrayList<>();
    for (int slot : runs.slots(context)) {
      Run run = runs.get(slot);
      if (!run.qualified()) {
        continue;
      }
      Stream stream = new Stream(context.slotLayer(slot), context.slotPhase(slot), run);
      if (!group.isEmpty() && group.get(0).layer() != stream.layer()) {
        findings.add(finding(group, context));
        group.clear();
      }
      group.add(stream);
    }
    if (!group.isEmpty()) {
      findings.add(finding(group, context));
    }
    return findings;
  }

  private Finding finding(List<Stream> group, AnalysisContext context) {
    group.sort(
        (a, b) ->
            CausalOrder.compare(
                a.run().onset(), a.layer(), a.phase(), b.run().onset(), b.layer(), b.phase()));
    Stream root = group.get(0);
    String name = context.layer(root.layer()).name();
    List<Consequence> consequences = new ArrayList<>();
    List<String> others = new ArrayList<>();
    for (Stream stream : group.subList(1, group.size())) {
      consequences.add(
          new Consequence(
              stream.layer(),
              name,
              stream.phase(),
              stream.run().onset(),
              stream.run().occurrences()));
      others.add(stream.phase().wireName());
    }
    Finding.Builder finding =
        Finding.builder(this)
            .at(root.layer(), root.phase())
            .steps(root.run().onset(), root.run().end(), root.run().occurrences())
            .consequences(consequences);
    describe(finding, root, name, String.join(", ", others), context);
    return finding.build();
  }
}
