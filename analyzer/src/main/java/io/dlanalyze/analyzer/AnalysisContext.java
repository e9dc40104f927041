package io.dlanalyze.analyzer;

import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import java.util.List;
import java.util.OptionalInt;
import org.jspecify.annotations.Nullable;

/**
 * What a detector may know about the analysis besides the current step: its options, the trace's
 * metadata, the layers seen so far and the epoch/batch of any step already read. Live: it grows as
 * the engine reads.
 */
public interface AnalysisContext {
  AnalysisOptions options();

  TraceMetadata metadata();

  /**
   * The number of classes: {@code dltrace.num_classes}, else, for a categorical cross-entropy, the
   * width of the output layer as the first step's rows give it (the engine reads it before {@link
   * Detector#begin}). Empty when neither says.
   */
  default OptionalInt numClasses() {
    return metadata().numClasses();
  }

  /** One more than the largest layer index seen so far (in rows or {@code dltrace.layers}). */
  int layerCount();

  /** The layer at {@code index} (a placeholder when nothing named it). */
  Layer layer(int index);

  /**
   * Every layer the trace names so far, in rows or {@code dltrace.layers}, by index: indexes that
   * nothing names are left out, so a loop over it costs what the trace holds.
   */
  List<Layer> layers();

  /**
   * The layer that produces the model's output: the one {@code dltrace.output_layer} names (the
   * layer the recorded loss was computed from) when the trace names it; else the last layer the
   * trace names, passing over trailing layers whose type is the model's own class ({@code
   * dltrace.model}), which a PyTorch recorder lists after the submodules for the parameters the
   * model holds itself (a class token, a position embedding). Null when no layer is named, and when
   * {@code dltrace.output_layer} is {@code none}: the loss compares a layer's outputs with one
   * another (a matching network, a contrastive loss), so the output-activation and output-width
   * rules have no output to read.
   */
  default @Nullable Layer outputLayer() {
    if (metadata().noOutputLayer()) {
      return null;
    }
    List<Layer> layers = layers();
    OptionalInt named = metadata().outputLayer();
    if (named.isPresent()) {
      for (Layer layer : layers) {
        if (layer.index() == named.getAsInt()) {
          return layer;
        }
      }
    }
    for (int i = layers.size() - 1; i >= 0; i--) {
      Layer layer = layers.get(i);
      if (i == 0 || !modelsOwn(layer)) {
        return layer;
      }
    }
    return null;
  }

  /**
   * True for the entry that holds the parameters the model keeps outside its layers (a class token,
   * a position table, a CRF's transition scores): a PyTorch recorder lists them as one more layer
   * whose type is the model's own class ({@code dltrace.model}). Never for a model that is one
   * layer.
   */
  default boolean modelsOwn(Layer layer) {
    String model = metadata().model().orElse(null);
    return model != null && model.equals(layer.type()) && layerCount() > 1;
  }

  /**
   * True when some step read so far had a row of the layer's phase ({@code layer} -1: the model's
   * rows); at {@code finish}, whether the trace records that stream at all.
   */
  boolean recorded(int layer, Phase phase);

  /**
   * The slot of a (layer, phase) stream ({@link StepView#slot}): a dense index, the same for the
   * whole analysis, to keep per-stream state by; -1 when the layer has had no row so far.
   */
  int slot(int layer, Phase phase);

  /** The layer index of a slot (-1 for model-level slots). */
  int slotLayer(int slot);

  /** The phase of a slot. */
  Phase slotPhase(int slot);

  /** Completed steps so far. */
  long stepCount();

  /** The epoch of a step already read, or -1 when that step was not in the trace. */
  int epochOf(long step);

  /** The in-epoch batch index of a step already read, or -1 when that step was not in the trace. */
  int batchOf(long step);

  /**
   * The run's loss and accuracy so far, kept by the engine: during {@link Detector#observe} it
   * already holds the step being observed.
   */
  LossHistory lossHistory();
}
