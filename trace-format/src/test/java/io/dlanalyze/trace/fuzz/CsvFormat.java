package io.dlanalyze.trace.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A CSV trace and its metadata sidecar from one input: the bytes before the first {@link
 * #SEPARATOR} are the sidecar ({@code run.csv.meta.json}), the rest is the CSV; without a separator
 * there is no sidecar. {@link #join} builds a seed from the two files.
 */
final class CsvFormat implements FuzzFormat {
  /** A byte sequence no trace holds: it splits the input into sidecar and CSV. */
  static final byte[] SEPARATOR = {0, '-', '-', 'c', 's', 'v', '-', '-', 0};

  @Override
  public Path materialize(byte[] input, Path dir) throws IOException {
    Path csv = dir.resolve("run.csv");
    int split = indexOf(input, SEPARATOR);
    if (split < 0) {
      Files.write(csv, input);
    } else {
      Files.write(dir.resolve("run.csv.meta.json"), Arrays.copyOfRange(input, 0, split));
      Files.write(csv, Arrays.copyOfRange(input, split + SEPARATOR.length, input.length));
    }
    return csv;
  }

  /** A seed: the sidecar, the separator, the CSV. */
  static byte[] join(byte[] sidecar, byte[] csv) {
    byte[] out = new byte[sidecar.length + SEPARATOR.length + csv.length];
    System.arraycopy(sidecar, 0, out, 0, sidecar.length);
    System.arraycopy(SEPARATOR, 0, out, sidecar.length, SEPARATOR.length);
    System.arraycopy(csv, 0, out, sidecar.length + SEPARATOR.length, csv.length);
    return out;
  }

  private static int indexOf(byte[] data, byte[] pattern) {
    outer:
    for (int i = 0; i + pattern.length <= data.length; i++) {
      for (int j = 0; j < pattern.length; j++) {
        if (data[i + j] != pattern[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
