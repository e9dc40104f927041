package io.dlanalyze.batch;

import io.dlanalyze.trace.PartFiles;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.tensorboard.TensorBoardRun;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a directory met by discovery is, decided from its listing alone, so the local walk ({@link
 * LocalDiscovery}) and the Spark job's Hadoop walk decide alike on any file system:
 *
 * <ul>
 *   <li>{@link Kind#PARQUET_PARTS}: its name ends in {@code .parquet} ({@link
 *       TraceNames#isPartDirectory}); one trace, not entered;
 *   <li>{@link Kind#TENSORBOARD_RUN}: it holds TensorBoard event files, itself or in its {@code
 *       train}/{@code validation} subdirectories ({@link TensorBoardRun}); one trace, still entered
 *       for the other traces it holds;
 *   <li>{@link Kind#ARROW_PARTS}: it holds Arrow IPC part files named {@code part-N} ({@code
 *       part-00000.arrows}, a recorder's part directory; {@code part-0.arrow}, pyarrow's {@code
 *       write_dataset(format="ipc")}), every Arrow IPC file in it is so named, and it holds no
 *       Parquet part; one trace, read as the reader reads any directory of parts ({@link
 *       PartFiles}); still entered, but its Arrow IPC files are not traces of their own;
 *   <li>{@link Kind#PLAIN}: any other directory, walked, its files separate traces.
 * </ul>
 *
 * A directory of independent traces ({@code a.arrows}, {@code b.arrows}) stays {@link Kind#PLAIN}:
 * only {@code part-N} names say that files continue each other.
 */
public final class TraceDirectories {
  private TraceDirectories() {}

  /** What a directory is to discovery. */
  public enum Kind {
    PARQUET_PARTS,
    TENSORBOARD_RUN,
    ARROW_PARTS,
    PLAIN;

    /** True when the directory is one trace. */
    public boolean isTrace() {
      return this != PLAIN;
    }
  }

  /**
   * One entry of a directory listing.
   *
   * @param regularFile true for a regular file (after symbolic links)
   */
  public record Entry(String name, boolean directory, boolean regularFile) {
    public Entry {
      Objects.requireNonNull(name, "name is null");
    }
  }

  /** A directory's listing on some file system. */
  public interface Listing {
    /** The directory's entries. */
    List<Entry> entries() throws IOException;

    /** The entries of its subdirectory {@code name}. */
    List<Entry> entries(String name) throws IOException;
  }

  /**
   * What the directory named {@code name} is.
   *
   * @throws IOException when it, or one of its train or validation subdirectories, cannot be listed
   */
  public static Kind kind(String name, Listing listing) throws IOException {
    if (TraceNames.isPartDirectory(name)) {
      return Kind.PARQUET_PARTS;
    }
    List<Entry> entries = listing.entries();
    if (isTensorBoardRun(entries, listing)) {
      return Kind.TENSORBOARD_RUN;
    }
    return isArrowParts(entries) ? Kind.ARROW_PARTS : Kind.PLAIN;
  }

  /**
   * True for the name of an Arrow IPC file inside an {@link Kind#ARROW_PARTS} directory: one of its
   * parts, never a trace of its own.
   */
  public static boolean isArrowPart(String name) {
    TraceFormat format = PartFiles.formatOf(Path.of(name));
    return format == TraceFormat.ARROW_STREAM || format == TraceFormat.ARROW_FILE;
  }

  /**
   * The files a directory trace is read from, as the reader picks them, by their path in the
   * directory ({@code part-00001.arrows}, {@code train/events.out.tfevents...}): its Parquet parts
   * when it has any; else, for a TensorBoard run, its event files and those of its train and
   * validation subdirectories; else its Arrow IPC parts. The order is unspecified.
   *
   * @param directory the directory, for the error message
   * @throws io.dlanalyze.trace.TraceFormatException UNKNOWN_FORMAT when its Arrow parts mix streams
   *     and files
   */
  public static List<String> files(Path directory, Listing listing) throws IOException {
    List<Entry> entries = listing.entries();
    List<String> regular = new ArrayList<>();
    boolean parquet = false;
    for (Entry entry : entries) {
      if (entry.regularFile()) {
        regular.add(entry.name());
        parquet |= PartFiles.formatOf(Path.of(entry.name())) == TraceFormat.PARQUET;
      }
    }
    if (parquet || !isTensorBoardRun(entries, listing)) {
      return PartFiles.select(directory, regular);
    }
    List<String> files = new ArrayList<>();
    for (Entry entry : entries) {
      if (entry.regularFile() && TensorBoardRun.isEventFileName(entry.name())) {
        files.add(entry.name());
      }
    }
    for (Entry entry : entries) {
      if (entry.directory() && TensorBoardRun.isRoleName(entry.name())) {
        for (Entry inner : listing.entries(entry.name())) {
          if (inner.regularFile() && TensorBoardRun.isEventFileName(inner.name())) {
            files.add(entry.name() + "/" + inner.name());
          }
        }
      }
    }
    return files;
  }

  private static boolean isTensorBoardRun(List<Entry> entries, Listing listing) throws IOException {
    if (hasEventFiles(entries)) {
      return true;
    }
    for (Entry entry : entries) {
      if (entry.directory()
          && TensorBoardRun.isRoleName(entry.name())
          && hasEventFiles(listing.entries(entry.name()))) {
        return true;
      }
    }
    return false;
  }

  private static boolean hasEventFiles(List<Entry> entries) {
    for (Entry entry : entries) {
      if (entry.regularFile() && TensorBoardRun.isEventFileName(entry.name())) {
        return true;
      }
    }
    return false;
  }

  private static boolean isArrowParts(List<Entry> entries) {
    boolean parts = false;
    for (Entry entry : entries) {
      if (!entry.regularFile()) {
        continue;
      }
      TraceFormat format = PartFiles.formatOf(Path.of(entry.name()));
      if (format == TraceFormat.PARQUET) {
        return false;
      }
      if (format == TraceFormat.ARROW_STREAM || format == TraceFormat.ARROW_FILE) {
        if (!isPartName(entry.name())) {
          return false;
        }
        parts = true;
      }
    }
    return parts;
  }

  /** {@code part-} and a digit: {@code part-00000.arrows}, {@code part-0.arrow}. */
  private static boolean isPartName(String name) {
    return name.length() > 5
        && name.startsWith("part-")
        && name.charAt(5) >= '0'
        && name.charAt(5) <= '9';
  }
}
