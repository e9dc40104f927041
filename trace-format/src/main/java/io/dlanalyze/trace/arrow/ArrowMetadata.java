package io.dlanalyze.trace.arrow;

import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Key order for Arrow schema metadata. Arrow Java keeps custom metadata in a {@code HashMap} on
 * both the write and the read side, so the file order is lost; the reader restores a stable order
 * instead: the contract's keys in the order the spec lists them, then every other key sorted.
 */
final class ArrowMetadata {
  private static final List<String> CONTRACT_ORDER =
      List.of(
          TraceMetadata.VERSION,
          TraceMetadata.RUN_ID,
          TraceMetadata.MODEL,
          TraceMetadata.FRAMEWORK,
          TraceMetadata.OPTIMIZER,
          TraceMetadata.LEARNING_RATE,
          TraceMetadata.BATCH_SIZE,
          TraceMetadata.TASK,
          TraceMetadata.LOSS,
          TraceMetadata.STEPS_PER_EPOCH,
          TraceMetadata.NUM_CLASSES,
          TraceMetadata.LAYERS);

  private ArrowMetadata() {}

  static Map<String, String> ordered(Map<String, String> values) {
    Map<String, String> ordered = new LinkedHashMap<>();
    for (String key : CONTRACT_ORDER) {
      String value = values.get(key);
      if (value != null) {
        ordered.put(key, value);
      }
    }
    List<String> rest = new ArrayList<>();
    for (String key : values.keySet()) {
      if (!ordered.containsKey(key)) {
        rest.add(key);
      }
    }
    rest.sort(null);
    for (String key : rest) {
      ordered.put(key, values.get(key));
    }
    return ordered;
  }
}
