package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Counts the rows of phases this version does not know, and the first row of each: for a reader's
 * {@link TraceReader#warnings()} ({@code unknown phase 'grad_norm' in 37 rows: the rows are kept,
 * but no detector reads them}) and the validator's {@code unknown-phase} problems.
 */
public final class UnknownPhases {
  /** An unknown phase seen in at least one row. */
  public record Seen(String name, long rows, long firstRow) {}

  private long[] rows = new long[0];
  private long[] firstRow = new long[0];
  private long counted;

  /**
   * Counts the unknown phase codes among the first {@code size} values of a phase column: the
   * batch's rows follow those of the batches counted before.
   */
  public void count(int[] phases, int size) {
    for (int i = 0; i < size; i++) {
      if (phases[i] >= Phase.COUNT) {
        count(phases[i], counted + i);
      }
    }
    counted += size;
  }

  /** Counts one row of phase code {@code code} (at or above {@link Phase#COUNT}). */
  public void count(int code, long row) {
    int index = code - Phase.COUNT;
    if (index >= rows.length) {
      int n = Math.max(index + 1, rows.length * 2);
      rows = Arrays.copyOf(rows, n);
      firstRow = Arrays.copyOf(firstRow, n);
    }
    if (rows[index]++ == 0) {
      firstRow[index] = row;
    }
  }

  /** Every unknown phase seen in at least one row, in order of first appearance. */
  public List<Seen> seen(TraceDictionary dictionary) {
    List<Seen> seen = new ArrayList<>();
    List<String> names = dictionary.unknownPhaseNames();
    for (int i = 0; i < names.size() && i < rows.length; i++) {
      if (rows[i] > 0) {
        seen.add(new Seen(names.get(i), rows[i], firstRow[i]));
      }
    }
    return seen;
  }

  /** One warning per unknown phase seen in at least one row, in order of first appearance. */
  public List<String> warnings(TraceDictionary dictionary) {
    List<String> warnings = new ArrayList<>();
    for (Seen phase : seen(dictionary)) {
      warnings.add(
          format(
              ROOT,
              "unknown phase '%s' in %d rows: the rows are kept, but no detector reads them",
              Printable.escape(phase.name()),
              phase.rows()));
    }
    return warnings;
  }
}
