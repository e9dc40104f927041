package io.dlanalyze.spark;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.batch.TraceDirectories;
import io.dlanalyze.batch.TraceNames;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.tensorboard.TensorBoardRun;
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
import org.jspecify.annotations.Nullable;

/**
 * Finds traces on any Hadoop file system (local, HDFS, S3A...) by the same rules as {@code
 * dl-analyze batch} ({@link TraceNames} for files, {@link TraceDirectories} for directories): a
 * file argument is a trace; a directory is walked (a {@code *.parquet} directory, a directory of
 * Arrow IPC {@code part-N} files and a TensorBoard run are one trace each); a glob (Hadoop glob
 * syntax: {@code * ? [abc] {a,b}}, no {@code **}) is expanded by {@link FileSystem#globStatus} and
 * its matches are taken as directories or trace-named files; the output directory is never
 * searched.
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
  static Found find(List<String> arguments, @Nullable Path outDirectory, Configuration conf) {
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
              String name = match.getPath().getName();
              if (match.isDirectory()) {
                directory(fs, match, out, traces, notes, false);
              } else if (TraceNames.isTraceFile(name) || TensorBoardRun.isEventFileName(name)) {
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
          directory(fs, status, out, traces, notes, false);
        } else {
          add(traces, status.getPath());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Found(new ArrayList<>(traces.values()), notes);
  }

  /**
   * A directory argument, a directory a glob matched, or one met in the walk: one trace, or walked,
   * or both, as {@link TraceDirectories} decides (the rule {@code dl-analyze batch}'s walk
   * applies).
   *
   * @param inRun true when the parent directory is a TensorBoard run: its train and validation
   *     subdirectories are part of it, not runs of their own
   */
  private static void directory(
      FileSystem fs,
      FileStatus status,
      @Nullable Path out,
      Map<String, String> traces,
      List<String> notes,
      boolean inRun) {
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
    TraceDirectories.Kind kind;
    try {
      kind = TraceDirectories.kind(path.getName(), new Listing(fs, path, children));
    } catch (IOException e) {
      // a train or validation subdirectory that cannot be listed: walked, as the local batch does
      kind = TraceDirectories.Kind.PLAIN;
    }
    boolean roleOfRun = inRun && TensorBoardRun.isRoleName(path.getName());
    if (kind.isTrace() && !(kind == TraceDirectories.Kind.TENSORBOARD_RUN && roleOfRun)) {
      add(traces, path);
    }
    for (FileStatus child : children) {
      String name = child.getPath().getName();
      if (TraceNames.isHidden(name) || child.getPath().equals(out)) {
        continue;
      }
      if (child.isDirectory()) {
        directory(fs, child, out, traces, notes, kind == TraceDirectories.Kind.TENSORBOARD_RUN);
      } else if (TraceNames.isTraceFile(name)
          && !(kind == TraceDirectories.Kind.ARROW_PARTS && TraceDirectories.isArrowPart(name))) {
        add(traces, child.getPath());
      }
    }
  }

  /** A directory's listing, its own entries already listed. */
  private record Listing(FileSystem fs, Path dir, FileStatus[] children)
      implements TraceDirectories.Listing {
    @Override
    public List<TraceDirectories.Entry> entries() {
      return HadoopTraces.HadoopListing.entries(children);
    }

    @Override
    public List<TraceDirectories.Entry> entries(String name) throws IOException {
      return HadoopTraces.HadoopListing.entries(fs.listStatus(new Path(dir, name)));
    }
  }

  private static void add(Map<String, String> traces, Path qualified) {
    traces.put(HadoopTraces.displayPath(qualified), qualified.toString());
  }
}
