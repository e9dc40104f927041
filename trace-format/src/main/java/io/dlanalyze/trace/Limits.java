package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import org.jspecify.annotations.Nullable;

/**
 * The bounds every reader enforces, so that the memory a trace takes is justified by the trace
 * (docs/trace-format.md, "Limits and robustness"). Each is an error naming the file, never a silent
 * truncation: a value past a limit means the file is damaged or was not written as a trace.
 */
public final class Limits {
  /** Layer names, layer types and phase names: at most 1,024 characters. */
  public static final int MAX_NAME_CHARS = 1024;

  /** A metadata key: at most 1,024 characters. */
  public static final int MAX_METADATA_KEY_CHARS = 1024;

  /** A metadata value other than {@code dltrace.layers}: at most 1 MiB of characters. */
  public static final int MAX_METADATA_VALUE_CHARS = 1 << 20;

  /** The {@code dltrace.layers} value: at most 64 MiB of characters. */
  public static final int MAX_LAYERS_JSON_CHARS = 64 << 20;

  /**
   * Entries of {@code dltrace.layers}: at most one per layer index a trace may use (0 to {@link
   * LayerInfo#MAX_INDEX}), so that the layer tables of a trace stay within a 320 MB heap.
   */
  public static final int MAX_LAYER_ENTRIES = LayerInfo.MAX_INDEX + 1;

  private Limits() {}

  /** What the strings of a column are, for messages: "layer name", "layer type", "phase name". */
  public static String nameKind(Column column) {
    return switch (column) {
      case LAYER_NAME -> "layer name";
      case LAYER_TYPE -> "layer type";
      case PHASE -> "phase name";
      default -> column.wireName();
    };
  }

  /**
   * Checks a name read from a trace; the error has no file, the reader adds it ({@link
   * TraceFormatException#at}).
   *
   * @param what "layer name", "layer type" or "phase name"
   */
  public static String checkName(String what, String value) {
    if (value.length() > MAX_NAME_CHARS) {
      throw nameTooLong(what, value.length(), value);
    }
    return value;
  }

  /**
   * Checks the UTF-8 length of a name before it is decoded: more than four bytes a character can
   * only be too long.
   */
  public static void checkNameBytes(String what, int bytes) {
    if (bytes > 4 * MAX_NAME_CHARS) {
      throw nameTooLong(what, bytes, null);
    }
  }

  private static TraceFormatException nameTooLong(
      String what, long length, @Nullable String value) {
    String unit = value == null ? "bytes" : "characters";
    String start =
        value == null
            ? ""
            : format(ROOT, " (it starts with '%s...')", Printable.escape(value.substring(0, 40)));
    return new TraceFormatException(
        ErrorCode.INVALID_VALUE,
        null,
        null,
        format(
            ROOT,
            "a %s of %d %s is longer than the limit of %d characters%s",
            what,
            length,
            unit,
            MAX_NAME_CHARS,
            start));
  }
}
