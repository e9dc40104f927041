package io.dlanalyze.analyzer.detectors;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisContext;
import java.util.Arrays;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A detector's state per stream, by slot ({@link io.dlanalyze.analyzer.StepView#slot}): made on
 * first use, so it costs what the streams a detector keeps state for cost. The one place per-layer
 * and per-stream state grows: a detector that keeps several values per layer keeps one small state
 * object here, keyed by the slot of one of the layer's phases.
 *
 * @param <S> the state of one stream
 */
final class SlotStates<S> {
  private final Supplier<S> factory;
  private Object[] states = new Object[0];
  private int size;

  /** Slots with a state, in the order of {@link #slots}, valid while {@code ordered == size}. */
  private int[] order = new int[0];

  private int ordered = -1;

  SlotStates(Supplier<S> factory) {
    this.factory = factory;
  }

  /** The state of a slot (>= 0), made on first use. */
  @SuppressWarnings("unchecked")
  S at(int slot) {
    if (slot >= states.length) {
      states = Arrays.copyOf(states, Math.max(slot + 1, 2 * states.length));
    }
    Object state = states[slot];
    if (state == null) {
      state = factory.get();
      states[slot] = state;
      size++;
    }
    return (S) state;
  }

  /** The state of a slot that has one (one of {@link #slots}). */
  S get(int slot) {
    return requireNonNull(find(slot), "the slot has no state");
  }

  /** The state of a slot, or null when it has none (also for slot -1). */
  @SuppressWarnings("unchecked")
  @Nullable S find(int slot) {
    return slot >= 0 && slot < states.length ? (S) states[slot] : null;
  }

  /** Number of slots with a state. */
  int size() {
    return size;
  }

  /**
   * The slots with a state, ordered by layer index, then phase (model-level slots first): the order
   * in which the trace's layers run forward. Valid until a state is added; {@link #size()} entries.
   */
  int[] slots(AnalysisContext context) {
    if (ordered != size) {
      long[] keys = new long[size];
      int n = 0;
      for (int slot = 0; slot < states.length; slot++) {
        if (states[slot] != null) {
          long layer = context.slotLayer(slot) + 1L;
          keys[n++] = (layer << 40) | ((long) context.slotPhase(slot).code() << 32) | slot;
        }
      }
      Arrays.sort(keys);
      order = new int[size];
      for (int i = 0; i < size; i++) {
        order[i] = (int) keys[i];
      }
      ordered = size;
    }
    return order;
  }
}
