package io.dlanalyze.trace.arrow;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseLargeVariableWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.util.ValueVectorUtility;

/**
 * Checks a loaded vector before its values are used: the buffers are as large as the value count
 * needs ({@code ValueVectorUtility.validate}), and for strings the offsets rise and stay within the
 * data. Arrow Java's full validation would also copy every string to the heap to check its UTF-8,
 * which a damaged offset turns into one huge allocation; names are decoded later, one at a time and
 * within {@link io.dlanalyze.trace.Limits}.
 */
final class VectorChecks {
  private VectorChecks() {}

  /**
   * @throws IllegalArgumentException saying what does not fit
   */
  static void check(FieldVector vector) {
    ValueVectorUtility.validate(vector);
    int n = vector.getValueCount();
    if (n == 0) {
      return;
    }
    if (vector instanceof BaseVariableWidthVector strings) {
      ArrowBuf offsets = strings.getOffsetBuffer();
      long data = strings.getDataBuffer().capacity();
      long previous = offsets.getInt(0);
      if (previous < 0) {
        throw new IllegalArgumentException(format(ROOT, "the first offset is %d", previous));
      }
      for (int i = 1; i <= n; i++) {
        long next = offsets.getInt((long) i * 4);
        if (next < previous || next > data) {
          throw offsetError(i, next, previous, data);
        }
        previous = next;
      }
    } else if (vector instanceof BaseLargeVariableWidthVector strings) {
      ArrowBuf offsets = strings.getOffsetBuffer();
      long data = strings.getDataBuffer().capacity();
      long previous = offsets.getLong(0);
      if (previous < 0) {
        throw new IllegalArgumentException(format(ROOT, "the first offset is %d", previous));
      }
      for (int i = 1; i <= n; i++) {
        long next = offsets.getLong((long) i * 8);
        if (next < previous || next > data) {
          throw offsetError(i, next, previous, data);
        }
        previous = next;
      }
    }
  }

  private static IllegalArgumentException offsetError(int i, long next, long previous, long data) {
    return new IllegalArgumentException(
        format(
            ROOT,
            "string offset %d is %d after %d, outside the %d bytes of string data",
            i,
            next,
            previous,
            data));
  }
}
