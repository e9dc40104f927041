package io.dlanalyze.analyzer.report;

import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.MemoryTrace;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.WriteOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A trace whose layer names, layer types, metadata keys and values and phase names try to break out
 * of HTML text, attributes and script: if any of them is not escaped, the page runs script that
 * sets {@code data-pwned} on the html element, or loads an image (which the CSP refuses, a console
 * error). Layer {@link #NAN_LAYER} turns NaN at step {@link #NAN_STEP}, so findings quote a hostile
 * name.
 */
final class HostileTrace {
  static final String PWN = "document.documentElement.setAttribute('data-pwned','1')";

  /** The hostile layer names, by layer index. */
  static final List<String> NAMES =
      List.of(
          "<script>" + PWN + "</script>",
          "</script><script>" + PWN + "</script>",
          "\"><img src=x onerror=\"" + PWN + "\">",
          "' onmouseover='" + PWN + "' x='",
          "<!-- ]]> &amp; &lt;b&gt; <svg onload=" + PWN + ">",
          "<b>" + "long".repeat(250) + "</b>", // 1,007 characters: readers refuse names over 1,024
          "couche_\u00e9t\u00e9_\u5c42_\ud83d\ude80 \u05e9\u05db\u05d1\u05d4"
              + " line\u2028sep\u2029end",
          "ctl\u0000\u0007\u001b[31m\tname\nforged: line");

  static final int NAN_LAYER = 2;
  static final long NAN_STEP = 30;
  static final int STEPS = 60;

  /** The strings in {@link #NAMES} and the metadata that contain markup characters. */
  static List<String> markup() {
    List<String> all = new ArrayList<>();
    for (String name : NAMES) {
      if (name.contains("<") || name.contains("\"") || name.contains("'")) {
        all.add(name);
      }
    }
    all.add(TYPE);
    all.add(META_KEY);
    all.add(META_VALUE);
    all.add(PHASE);
    return all;
  }

  static final String TYPE = "<iframe src=\"https://example.com/\"></iframe>";
  static final String META_KEY = "custom.<img src=x onerror=\"" + PWN + "\">";
  static final String META_VALUE = "</textarea></script><script>" + PWN + "</script>";
  static final String PHASE = "<phase onclick=\"" + PWN + "\">";

  private HostileTrace() {}

  static TraceMetadata metadata() {
    Map<String, String> values = new LinkedHashMap<>();
    values.put(TraceMetadata.VERSION, "1");
    values.put(TraceMetadata.RUN_ID, "<b>run</b> \"42\" & 'x'");
    values.put(TraceMetadata.MODEL, "<script>" + PWN + "</script>");
    values.put(TraceMetadata.FRAMEWORK, "pytorch");
    values.put(TraceMetadata.STEPS_PER_EPOCH, "10");
    List<LayerInfo> layers = new ArrayList<>();
    for (int i = 0; i < NAMES.size(); i++) {
      layers.add(new LayerInfo(i, NAMES.get(i), TYPE, "<relu>", 100L * i, true));
    }
    values.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(layers));
    values.put(META_KEY, META_VALUE);
    return TraceMetadata.of(values);
  }

  /** Writes the trace; the format comes from the extension. */
  static Path write(Path path) {
    int layers = NAMES.size();
    int perStep = layers * 3 + 3;
    List<MemoryTrace.Row> rows = new ArrayList<>();
    for (int step = 0; step < STEPS; step++) {
      for (int r = 0; r < perStep; r++) {
        int layer = r < 3 * layers ? r % layers : -1;
        String phase =
            r < layers
                ? Phase.FORWARD.wireName()
                : r < 2 * layers
                    ? Phase.BACKWARD.wireName()
                    : r < 3 * layers
                        ? Phase.GRADIENT.wireName()
                        : r == 3 * layers
                            ? Phase.LOSS.wireName()
                            : r == 3 * layers + 1 ? Phase.ACCURACY.wireName() : PHASE;
        boolean accuracy = phase.equals(Phase.ACCURACY.wireName());
        boolean forward = phase.equals(Phase.FORWARD.wireName());
        boolean nan =
            !accuracy
                && (step > NAN_STEP
                    || (step == NAN_STEP && ((forward && layer >= NAN_LAYER) || !forward)));
        double value =
            accuracy
                ? Math.min(0.9, 0.1 + 0.02 * step)
                : layer < 0 ? 2.0 / (1 + step) + 0.1 : 0.01 * (layer + 1) * (1 + 0.01 * step);
        rows.add(
            new MemoryTrace.Row(
                step / 10,
                step % 10,
                step,
                layer,
                layer < 0 ? "model" : NAMES.get(layer),
                layer < 0 ? null : TYPE,
                phase,
                nan ? Double.NaN : value,
                nan ? Double.NaN : 0.5 + 0.001 * step,
                nan ? Double.NaN : value - 1,
                nan ? Double.NaN : value + 1,
                nan ? Double.NaN : 10 + layer + 0.1 * step,
                0.01 * (layer + 1),
                nan ? 64L : 0L,
                0L,
                64L));
      }
    }
    return MemoryTrace.of(metadata(), rows).write(path, WriteOptions.defaults());
  }
}
