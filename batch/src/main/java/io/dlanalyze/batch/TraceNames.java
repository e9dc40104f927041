package io.dlanalyze.batch;

import static java.util.Locale.ROOT;

import io.dlanalyze.trace.TraceFormat;
import java.nio.file.Path;

/**
 * Which names are traces when a directory is walked. The rules are on names only, so the local walk
 * ({@link LocalDiscovery}) and the Spark job's Hadoop walk pick the same traces:
 *
 * <ul>
 *   <li>names starting with {@code .} or {@code _} are never traces and hidden directories are not
 *       entered (temporary files of atomic writes, {@code _SUCCESS}, {@code _metadata});
 *   <li>a file is a trace when its extension names a format the reader reads: {@code .parquet},
 *       {@code .pq}, {@code .arrow}, {@code .feather}, {@code .ipc}, {@code .arrows}, {@code .csv}
 *       (a CSV's sidecar {@code .meta.json} is not a trace, nor is anything else);
 *   <li>a directory whose name ends in {@code .parquet} is one trace made of its {@code *.parquet}
 *       part files, read in name order ({@code run-17.parquet/part-00000.parquet}, as Spark and
 *       pyarrow write datasets); any other directory is walked, and its files are separate traces,
 *       unless what it holds makes it one trace ({@link TraceDirectories}: a directory of Arrow IPC
 *       {@code part-N} files, a TensorBoard run).
 * </ul>
 *
 * <p>A file named on the command line is analysed whatever its name (its format is told from its
 * first bytes).
 */
public final class TraceNames {
  private TraceNames() {}

  /** Hidden or internal: starts with {@code .} or {@code _}. */
  public static boolean isHidden(String name) {
    return name.startsWith(".") || name.startsWith("_");
  }

  /** A file that is a trace when met in a directory walk. */
  public static boolean isTraceFile(String name) {
    if (name.isEmpty() || isHidden(name)) {
      return false;
    }
    return TraceFormat.fromExtension(Path.of(name)).isPresent();
  }

  /** A directory that is one trace of Parquet part files. */
  public static boolean isPartDirectory(String name) {
    return !name.isEmpty() && !isHidden(name) && name.toLowerCase(ROOT).endsWith(".parquet");
  }

  /** A part file inside a part directory: {@code *.parquet}, not hidden. */
  public static boolean isPartFile(String name) {
    return !isHidden(name) && name.endsWith(".parquet");
  }

  /** True when a command-line path is a glob pattern ({@code * ? [ {}). */
  public static boolean isGlob(String argument) {
    for (int i = 0; i < argument.length(); i++) {
      char c = argument.charAt(i);
      if (c == '*' || c == '?' || c == '[' || c == '{') {
        return true;
      }
    }
    return false;
  }
}
