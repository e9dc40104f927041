package io.dlanalyze.trace;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every hostile value the test suites feed the readers, writers and reports, in one place:
 *
 * <ul>
 *   <li>{@link #NAMES}, {@link #metadata()} and {@link #batch}: values that break naive file
 *       handling (CSV quoting, JSON escaping, line breaks, very long and empty strings, NaN,
 *       infinities, -0.0, extreme numbers, nulls in every nullable column, an unknown phase), for
 *       round trips through every format.
 *   <li>{@link Markup}: a trace whose strings try to break out of HTML text, attributes and script,
 *       for the report renderers.
 * </ul>
 */
public final class HostileTraces {
  private HostileTraces() {}

  /** Layer names that break naive CSV, JSON or HTML handling. */
  public static final List<String> NAMES =
      List.of(
          "fc1",
          "with,comma",
          "with \"quotes\"",
          "line\nbreak",
          "crlf\r\nbreak",
          "<script>alert(1)</script>",
          "x".repeat(1_000),
          "couche_été_层_🚀",
          " padded ",
          "",
          "nan",
          "-inf",
          "=cmd|' /C calc'!A0");

  /** Metadata with every contract key, a layer list and keys with awkward values. */
  public static TraceMetadata metadata() {
    Map<String, String> values = new LinkedHashMap<>();
    values.put(TraceMetadata.VERSION, "1");
    values.put(TraceMetadata.RUN_ID, "run-42");
    values.put(TraceMetadata.MODEL, "mlp \"hostile\", <b>");
    values.put(TraceMetadata.FRAMEWORK, "pytorch");
    values.put(TraceMetadata.LEARNING_RATE, "0.001");
    values.put(TraceMetadata.TASK, "classification");
    values.put(TraceMetadata.STEPS_PER_EPOCH, "3");
    values.put(TraceMetadata.NUM_CLASSES, "10");
    List<LayerInfo> layers = new ArrayList<>();
    for (int i = 0; i < NAMES.size(); i++) {
      layers.add(
          new LayerInfo(i, NAMES.get(i), i % 2 == 0 ? "Linear" : null, "relu", 10L * i, i != 3));
    }
    values.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(layers));
    values.put("custom.multiline", "a\nb\tc \"q\" \\ é");
    values.put("custom.empty", "");
    return TraceMetadata.of(values);
  }

  /**
   * A batch of {@code steps} steps over the hostile layer names: nulls in every nullable column,
   * NaN, infinities, -0.0, extreme doubles and longs, an unknown phase.
   */
  public static TraceBatch batch(TraceDictionary dictionary, int steps) {
    int layers = NAMES.size();
    int perStep = layers * 2 + 3;
    int rows = steps * perStep;
    TraceBatch batch = TraceBatch.allColumns(dictionary, rows);
    batch.reset(rows);
    double[] specials = {
      Double.NaN,
      Double.POSITIVE_INFINITY,
      Double.NEGATIVE_INFINITY,
      -0.0,
      0.0,
      Double.MIN_VALUE,
      Double.MAX_VALUE,
      -Double.MAX_VALUE,
      0.1,
      1.0 / 3,
      1e-300,
      123456789.123456789,
      Math.PI,
      1e22,
      5e-324
    };
    int row = 0;
    for (int step = 0; step < steps; step++) {
      for (int r = 0; r < perStep; r++) {
        int layer;
        int phase;
        if (r < layers) {
          layer = r;
          phase = Phase.FORWARD.code();
        } else if (r < 2 * layers) {
          layer = r - layers;
          phase = Phase.GRADIENT.code();
        } else if (r == 2 * layers) {
          layer = -1;
          phase = Phase.LOSS.code();
        } else if (r == 2 * layers + 1) {
          layer = -1;
          phase = Phase.LEARNING_RATE.code();
        } else {
          layer = -1;
          phase = dictionary.phaseCode("custom_phase, \"odd\"");
        }
        batch.ints(Column.EPOCH)[row] = step / 3;
        batch.ints(Column.BATCH)[row] = step % 3;
        batch.longs(Column.STEP)[row] = step;
        batch.ints(Column.LAYER_INDEX)[row] = layer;
        batch.ints(Column.LAYER_NAME)[row] =
            dictionary.layerNameId(layer < 0 ? "model" : NAMES.get(layer));
        if (layer < 0 || layer % 2 == 1) {
          batch.ints(Column.LAYER_TYPE)[row] = -1;
          batch.setNull(Column.LAYER_TYPE, row);
        } else {
          batch.ints(Column.LAYER_TYPE)[row] =
              dictionary.layerTypeId(layer % 4 == 0 ? "Linear" : "Conv2d, \"x\"");
        }
        batch.ints(Column.PHASE)[row] = phase;
        int k = row % specials.length;
        batch.doubles(Column.MEAN)[row] = specials[k];
        setOrNull(batch, Column.STD, row, row % 5 == 1, specials[(k + 1) % specials.length]);
        setOrNull(batch, Column.MIN, row, row % 7 == 2, -row * 0.1);
        setOrNull(batch, Column.MAX, row, row % 3 == 0, row * 1e10);
        setOrNull(batch, Column.L2_NORM, row, row % 4 == 3, Math.sqrt(row));
        setOrNull(batch, Column.ZERO_FRACTION, row, row % 6 == 5, (row % 11) / 10.0);
        setOrNullLong(
            batch, Column.NAN_COUNT, row, row % 8 == 7, row % 13 == 0 ? Long.MAX_VALUE : row);
        setOrNullLong(batch, Column.INF_COUNT, row, row % 9 == 4, 0);
        setOrNullLong(batch, Column.NUMEL, row, row % 10 == 9, 1L << 40);
        row++;
      }
    }
    return batch;
  }

  private static void setOrNull(
      TraceBatch batch, Column column, int row, boolean isNull, double value) {
    batch.doubles(column)[row] = isNull ? 0 : value;
    if (isNull) {
      batch.setNull(column, row);
    }
  }

  private static void setOrNullLong(
      TraceBatch batch, Column column, int row, boolean isNull, long value) {
    batch.longs(column)[row] = isNull ? 0 : value;
    if (isNull) {
      batch.setNull(column, row);
    }
  }

  /**
   * A trace whose layer names, layer types, metadata keys and values and phase names try to break
   * out of HTML text, attributes and script: if any of them is not escaped, the page runs script
   * that sets {@code data-pwned} on the html element, or loads an image (which the CSP refuses, a
   * console error). Layer {@link #NAN_LAYER} turns NaN at step {@link #NAN_STEP}, so findings quote
   * a hostile name.
   */
  public static final class Markup {
    public static final String PWN = "document.documentElement.setAttribute('data-pwned','1')";

    /** The hostile layer names, by layer index. */
    public static final List<String> NAMES =
        List.of(
            "<script>" + PWN + "</script>",
            "</script><script>" + PWN + "</script>",
            "\"><img src=x onerror=\"" + PWN + "\">",
            "' onmouseover='" + PWN + "' x='",
            "<!-- ]]> &amp; &lt;b&gt; <svg onload=" + PWN + ">",
            // 1,007 characters: readers refuse names over 1,024
            "<b>" + "long".repeat(250) + "</b>",
            "couche_\u00e9t\u00e9_\u5c42_\ud83d\ude80 \u05e9\u05db\u05d1\u05d4"
                + " line\u2028sep\u2029end",
            "ctl\u0000\u0007\u001b[31m\tname\nforged: line");

    public static final String TYPE = "<iframe src=\"https://example.com/\"></iframe>";
    public static final String META_KEY = "custom.<img src=x onerror=\"" + PWN + "\">";
    public static final String META_VALUE = "</textarea></script><script>" + PWN + "</script>";
    public static final String PHASE = "<phase onclick=\"" + PWN + "\">";

    public static final int NAN_LAYER = 2;
    public static final long NAN_STEP = 30;
    public static final int STEPS = 60;

    private Markup() {}

    /** The strings in {@link #NAMES} and the metadata that contain markup characters. */
    public static List<String> all() {
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

    public static TraceMetadata metadata() {
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

    /** The trace in memory. */
    public static MemoryTrace trace() {
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
      return MemoryTrace.of(metadata(), rows);
    }

    /** Writes the trace; the format comes from the extension. */
    public static Path write(Path path) {
      return trace().write(path, WriteOptions.defaults());
    }
  }
}
