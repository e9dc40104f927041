package io.dlanalyze.spark;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.batch.TraceNames;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Finds traces on any Hadoop file system (local, HDFS, S3A...) by the same rules as {@code
 * dl-analyze batch} ({@link TraceNames}): a file argument is a trace; a directory is walked (a
 * {@code *.parquet} directory is one trace); a glob (Hadoop glob syntax: {@code * ? [abc] {a,b}},
 * no {@code **}) is expanded by {@link FileSystem#globStatus} and its matches are taken as
 * directories or trace-named files; the output directory is never searched.
 */
final class HadoopDiscovery {
  private HadoopDiscovery() {}

  /**
   * The traces found and notes.
   *
   * @param traces fully qualified URIs, sorted by their display path
   */
  record Found(List<String> traces, List<String> notes) {
    Found {
      traces = List.copyOf(traces);
      notes = List.copyOf(notes);
    }
  }

  /**
   * Finds the traces under {@code arguments}.
   *
   * @param out the qualified output directory, never searched
   * @throws TraceFormatException NOT_FOUND when a path that is not a glob does not exist
   */
  static Found find(List<String> arguments, Path outDirectory, Configuration conf) {
    // Path(String) drops a trailing slash, Path(URI) keeps it: compare normalized paths.
    Path out = outDirectory == null ? null : new Path(outDirectory.toString());
    Map<String, String> traces = new TreeMap<>();
    List<String> notes = new ArrayList<>();
    try {
      for (String argument : arguments) {
        Path path = new Path(argument);
        FileSystem fs = path.getFileSystem(conf);
        if (TraceNames.isGlob(argument)) {
          FileStatus[] matches = fs.globStatus(path);
          int before = traces.size();
          if (matches != null) {
            for (FileStatus match : matches) {
              if (match.isDirectory()) {
                directory(fs, match, out, traces, notes);
              } else if (TraceNames.isTraceFile(match.getPath().getName())) {
                add(traces, match.getPath());
              }
            }
          }
          if (traces.size() == before) {
            notes.add(format(ROOT, "%s: no trace matches this pattern", argument));
          }
          continue;
        }
        FileStatus status;
        try {
          status = fs.getFileStatus(path);
        } catch (FileNotFoundException e) {
          throw new TraceFormatException(
              ErrorCode.NOT_FOUND,
              null,
              null,
              format(ROOT, "%s: no such file or directory", fs.makeQualified(path)));
        }
        if (status.isDirectory()) {
          directory(fs, status, out, traces, notes);
        } else {
          add(traces, status.getPath());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Found(new ArrayList<>(traces.values()), notes);
  }

  private static void directory(
      FileSystem fs, FileStatus status, Path out, Map<String, String> traces, List<String> notes) {
    Path path = status.getPath();
    if (path.equals(out)) {
      return;
    }
    if (TraceNames.isPartDirectory(path.getName())) {
      add(traces, path);
      return;
    }
    FileStatus[] children;
    try {
      children = fs.listStatus(path);
    } catch (IOException e) {
      notes.add(format(ROOT, "%s: cannot be listed: %s", path, e.getMessage()));
      return;
    }
    for (FileStatus child : children) {
      String name = child.getPath().getName();
      if (TraceNames.isHidden(name) || child.getPath().equals(out)) {
        continue;
      }
      if (child.isDirectory()) {
        directory(fs, child, out, traces, notes);
      } else if (TraceNames.isTraceFile(name)) {
        add(traces, child.getPath());
      }
    }
  }

  private static void add(Map<String, String> traces, Path qualified) {
    traces.put(HadoopTraces.displayPath(qualified), qualified.toString());
  }
}
