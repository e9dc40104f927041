package io.dlanalyze.trace.bench;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;

/**
 * The Java side of {@code bench/read-throughput.sh}: generates a synthetic trace once, and reads a
 * trace once per JVM, printing one result line. Not a test; run through the script.
 *
 * <pre>
 * generate PATH ROWS            write a synthetic trace of ROWS rows (6 layers, 32 rows per step);
 *                               the format comes from PATH's extension
 * read PATH all|proj4           read every column, or step, layer_index, phase and mean
 * </pre>
 *
 * The read line: {@code rows=N seconds=S cpu=C rows_per_s=R rows_per_cpu_s=RC file_mb_per_cpu_s=F
 * decoded_mb_per_cpu_s=D checksum=X}, where {@code cpu} is the reading thread's CPU time (stable on
 * a shared machine, unlike wall time), file MB are bytes on disk and decoded MB the bytes of the
 * loaded primitive arrays (4 per int32/string id, 8 per int64/float64). The checksum touches every
 * loaded value so that the JIT cannot skip the decode.
 */
public final class ReadThroughput {
  /** Layers of the generated model: 5 x 6 + 2 = 32 rows per step. */
  static final int LAYERS = 6;

  private static final Set<Column> PROJ4 =
      EnumSet.of(Column.STEP, Column.LAYER_INDEX, Column.PHASE, Column.MEAN);

  private ReadThroughput() {}

  public static void main(String[] args) throws IOException {
    if (args.length == 3 && args[0].equals("generate")) {
      generate(Path.of(args[1]), Long.parseLong(args[2]));
    } else if (args.length == 3 && args[0].equals("read")) {
      read(Path.of(args[1]), args[2]);
    } else {
      System.err.println("usage: ReadThroughput generate PATH ROWS | read PATH all|proj4");
      System.exit(2);
    }
  }

  static void generate(Path path, long rows) throws IOException {
    int rowsPerStep = 5 * LAYERS + 2;
    if (rows % rowsPerStep != 0) {
      throw new IllegalArgumentException(
          format(ROOT, "rows must be a multiple of %d: %d", rowsPerStep, rows));
    }
    long steps = rows / rowsPerStep;
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(LAYERS)
            .steps(steps)
            .stepsPerEpoch(1_000)
            .seed(42)
            .fault(Fault.nan(3, steps * 9 / 10))
            .build();
    long start = System.nanoTime();
    TestTraces.write(path, trace, WriteOptions.defaults());
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(
        ROOT,
        "generated rows=%d bytes=%d seconds=%.1f%n",
        trace.totalRows(),
        Files.size(path),
        seconds);
  }

  static void read(Path path, String projection) throws IOException {
    ReadOptions options =
        switch (projection) {
          case "all" -> ReadOptions.all();
          case "proj4" -> ReadOptions.columns(PROJ4);
          default ->
              throw new IllegalArgumentException("projection must be all or proj4: " + projection);
        };
    long fileBytes = Files.isDirectory(path) ? directorySize(path) : Files.size(path);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long cpuStart = threads.getCurrentThreadCpuTime();
    long start = System.nanoTime();
    long rows = 0;
    long decodedBytes = 0;
    double checksum = 0;
    try (TraceReader reader = TraceReaders.open(path, options)) {
      TraceBatch batch = reader.batch();
      Column[] columns = batch.columns().toArray(new Column[0]);
      int bytesPerRow = 0;
      for (Column column : columns) {
        bytesPerRow +=
            column.type() == ColumnType.INT64 || column.type() == ColumnType.FLOAT64 ? 8 : 4;
      }
      while (reader.next()) {
        int n = batch.size();
        rows += n;
        decodedBytes += (long) n * bytesPerRow;
        for (Column column : columns) {
          checksum += touch(batch, column, n);
        }
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    double cpu = (threads.getCurrentThreadCpuTime() - cpuStart) / 1e9;
    System.out.printf(
        ROOT,
        "rows=%d seconds=%.3f cpu=%.3f rows_per_s=%.0f rows_per_cpu_s=%.0f file_mb_per_cpu_s=%.0f"
            + " decoded_mb_per_cpu_s=%.0f checksum=%s%n",
        rows,
        seconds,
        cpu,
        rows / seconds,
        rows / cpu,
        fileBytes / 1e6 / cpu,
        decodedBytes / 1e6 / cpu,
        Double.toString(checksum));
  }

  /** A cheap function of every value of a column (NaN-safe), so that decoding cannot be skipped. */
  private static double touch(TraceBatch batch, Column column, int n) {
    long sum = 0;
    switch (column.type()) {
      case INT32, STRING -> {
        int[] values = batch.ints(column);
        for (int i = 0; i < n; i++) {
          sum += values[i];
        }
      }
      case INT64 -> {
        long[] values = batch.longs(column);
        for (int i = 0; i < n; i++) {
          sum += values[i];
        }
      }
      case FLOAT64 -> {
        double[] values = batch.doubles(column);
        for (int i = 0; i < n; i++) {
          sum += Double.doubleToRawLongBits(values[i]) >>> 40;
        }
      }
    }
    return sum;
  }

  private static long directorySize(Path directory) throws IOException {
    long total = 0;
    try (var files = Files.list(directory)) {
      for (Path file : (Iterable<Path>) files::iterator) {
        total += Files.size(file);
      }
    }
    return total;
  }
}
