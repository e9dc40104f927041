package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Counts the rows of phases this version does not know, for a reader's {@link
 * TraceReader#warnings()}: {@code unknown phase 'grad_norm' in 37 rows: the rows are kept, but no
 * detector reads them} (the wording of the Parquet reader).
 */
public final class UnknownPhases {
  private long[] rows = new long[0];

  /** Counts the unknown phase codes among the first {@code size} values of a phase column. */
  public void count(int[] phases, int size) {
    for (int i = 0; i < size; i++) {
      int code = phases[i];
      if (code >= Phase.COUNT) {
        int index = code - Phase.COUNT;
        if (index >= rows.length) {
          rows = Arrays.copyOf(rows, Math.max(index + 1, rows.length * 2));
        }
        rows[index]++;
      }
    }
  }

  /** One warning per unknown phase seen in at least one row, in order of first appearance. */
  public List<String> warnings(TraceDictionary dictionary) {
    List<String> warnings = new ArrayList<>();
    List<String> names = dictionary.unknownPhaseNames();
    for (int i = 0; i < names.size() && i < rows.length; i++) {
      if (rows[i] > 0) {
        warnings.add(
            format(
                ROOT,
                "unknown phase '%s' in %d rows: the rows are kept, but no detector reads them",
                names.get(i),
                rows[i]));
      }
    }
    return warnings;
  }
}
