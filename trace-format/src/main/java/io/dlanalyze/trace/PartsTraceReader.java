package io.dlanalyze.trace;

import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.arrow.ArrowTraceReader;
import io.dlanalyze.trace.parquet.ParquetTraceReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A trace written as a directory of part files ({@link PartFiles}), read part after part as one
 * trace: each part through its own reader, its rows copied into one batch over one dictionary.
 * Every part must have the columns of the first one. The metadata is the first part's, plus the
 * keys that only later parts hold (a stop reason written at the end of the run).
 *
 * <p>A part that ends without its end marker (a writer that crashed, then a new part after it) adds
 * a warning naming it; the trace counts as {@link #truncated()} when its last part does.
 *
 * <p>Followed ({@link #follow}), the directory may still grow: a part still being written is read
 * as it grows, like a single stream ({@link ArrowTraceReader#follow}); a Parquet part is read once
 * it is complete (its footer written); when the parts present are read to their end, the reader
 * waits for the next one. A {@link Waiter} says how long to wait for each.
 */
public final class PartsTraceReader implements TraceReader {
  /** What a followed directory is waiting for. */
  public enum Wait {
    /** The part being read has no complete next message yet (or, Parquet, no footer yet). */
    MORE_DATA,
    /** Every part present is read to its end marker: a next part, or the end of the trace. */
    NEXT_PART
  }

  /** How long a followed directory waits; called on the reading thread. */
  public interface Waiter {
    /**
     * Nothing new was found: waits a while (one poll), then returns true to look again, or false to
     * give up: on {@link Wait#MORE_DATA}, the part is read as cut where it is; on {@link
     * Wait#NEXT_PART}, the trace ends there.
     *
     * @param laterPart true when the directory already holds a part after the one being read (its
     *     writer may have moved on)
     */
    boolean pause(Wait what, boolean laterPart) throws IOException;

    /** New data was found (a part grew, a new part appeared). */
    void progress();
  }

  private final Path directory;
  private final ReadOptions options;

  /** Null for a complete directory, which is not followed. */
  private final @Nullable Waiter waiter;

  private final List<Path> listed;
  private final TraceFormat format;
  private final TraceDictionary dictionary = new TraceDictionary();
  private final TraceBatch batch;
  private final UnknownPhases unknownPhases = new UnknownPhases();
  private final List<String> warnings = new ArrayList<>();
  private final Map<String, String> finishedMetadata = new LinkedHashMap<>();
  private final Set<Column> columnsInFile;
  private final Path firstPart;
  private Path part;

  /** The reader of {@link #part}; null between a part's end and the next part, and once closed. */
  private @Nullable TraceReader current;

  private int[] names = new int[0];
  private int[] types = new int[0];
  private int[] phases = new int[0];
  private @Nullable TraceMetadata metadata;
  private @Nullable Map<String, String> metadataSource;
  private long rowsRead;
  private boolean truncated;
  private boolean finished;
  private boolean closed;

  private PartsTraceReader(
      Path directory, ReadOptions options, @Nullable Waiter waiter, List<Path> parts) {
    this.directory = directory;
    this.options = options;
    this.waiter = waiter;
    this.listed = parts;
    this.firstPart = parts.get(0);
    this.part = firstPart;
    this.format = PartFiles.formatOfListed(firstPart);
    this.batch = new TraceBatch(dictionary, options.columns(), options.batchRows());
    TraceReader reader;
    try {
      reader = openPart(firstPart);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
    this.columnsInFile = reader.columnsInFile();
    this.current = reader;
  }

  /**
   * Opens a directory of Arrow parts (IPC streams or IPC files) as one trace. A directory of
   * Parquet parts is read by {@link ParquetTraceReader} itself.
   *
   * @throws TraceFormatException EMPTY when it holds no part, UNKNOWN_FORMAT when its parts mix
   *     formats, or the first part's error
   */
  public static PartsTraceReader open(Path directory, ReadOptions options) {
    List<Path> parts = PartFiles.list(directory);
    if (parts.isEmpty()) {
      throw new TraceFormatException(
          ErrorCode.EMPTY,
          directory,
          null,
          "directory has no part files (*.parquet, *.arrows or *.arrow)");
    }
    return new PartsTraceReader(directory, options, null, parts);
  }

  /**
   * Opens a directory that a run is still writing parts into, and follows it. The directory must
   * hold at least one part (the first part may still be empty).
   */
  public static PartsTraceReader follow(Path directory, ReadOptions options, Waiter waiter) {
    List<Path> parts = PartFiles.list(directory);
    if (parts.isEmpty()) {
      throw new TraceFormatException(
          ErrorCode.NOT_FOUND,
          directory,
          null,
          "directory has no part files (*.parquet, *.arrows or *.arrow)");
    }
    return new PartsTraceReader(directory, options, requireNonNull(waiter), parts);
  }

  /** The part being read now, or the last one read. */
  public Path currentPart() {
    return part;
  }

  /** Opens a later part as the current one, and returns its reader. */
  private TraceReader open(Path file) {
    TraceFormat kind = PartFiles.formatOfListed(file);
    if (kind != format) {
      throw new TraceFormatException(
          ErrorCode.UNKNOWN_FORMAT,
          file,
          null,
          String.format(
              ROOT,
              "a %s part after %s parts (%s): the parts of one trace must have one format",
              kind.displayName(),
              format.displayName(),
              firstPart.getFileName()));
    }
    part = file;
    TraceReader reader = openPart(file);
    if (!columnsInFile.equals(reader.columnsInFile())) {
      reader.close();
      throw differentColumns(file, reader.columnsInFile());
    }
    current = reader;
    Arrays.fill(names, 0);
    Arrays.fill(types, 0);
    Arrays.fill(phases, 0);
    return reader;
  }

  private TraceReader openPart(Path file) {
    return waiter == null ? openComplete(file) : openFollowed(file, waiter);
  }

  private TraceReader openComplete(Path file) {
    return format == TraceFormat.PARQUET
        ? ParquetTraceReader.open(file, options)
        : ArrowTraceReader.open(file, format, options);
  }

  /** A part still being written: Arrow followed as it grows, Parquet once its footer is there. */
  private TraceReader openFollowed(Path file, Waiter waiter) {
    if (format != TraceFormat.PARQUET) {
      return ArrowTraceReader.follow(file, format, options, size -> grew(file, size, waiter));
    }
    long size = -1;
    while (true) {
      try {
        TraceReader reader = ParquetTraceReader.open(file, options);
        waiter.progress();
        return reader;
      } catch (TraceFormatException e) {
        ErrorCode code = e.code();
        if (code != ErrorCode.TRUNCATED && code != ErrorCode.EMPTY && code != ErrorCode.CORRUPT) {
          throw e;
        }
        // not complete yet: wait until it changes, or give up with its error
        long now = size;
        try {
          while (now == size) {
            if (!pause(Wait.MORE_DATA, waiter)) {
              throw e;
            }
            now = sizeOf(file);
          }
        } catch (IOException io) {
          throw ioError(file, io);
        }
        size = now;
      }
    }
  }

  /** The followed part's wait for more bytes ({@link ArrowTraceReader.Follow}). */
  private boolean grew(Path file, long size, Waiter waiter) throws IOException {
    while (true) {
      if (sizeOf(file) > size) {
        waiter.progress();
        return true;
      }
      if (!pause(Wait.MORE_DATA, waiter)) {
        return false;
      }
    }
  }

  private boolean pause(Wait what, Waiter waiter) throws IOException {
    return waiter.pause(what, what == Wait.MORE_DATA && laterPart() != null);
  }

  /** The first part after the one read last, or null. */
  private @Nullable Path laterPart() {
    List<Path> parts = waiter == null ? listed : PartFiles.list(directory);
    for (Path candidate : parts) {
      if (PartFiles.NAME_ORDER.compare(candidate, part) > 0) {
        return candidate;
      }
    }
    return null;
  }

  private static long sizeOf(Path file) throws IOException {
    try {
      return Files.size(file);
    } catch (NoSuchFileException e) {
      return -1;
    }
  }

  private TraceFormatException differentColumns(Path file, Set<Column> found) {
    for (Column column : Column.values()) {
      boolean first = columnsInFile.contains(column);
      if (first != found.contains(column)) {
        return new TraceFormatException(
            first ? ErrorCode.MISSING_COLUMN : ErrorCode.WRONG_TYPE,
            file,
            null,
            String.format(
                ROOT,
                first
                    ? "column '%s' is missing here but present in the first part file %s"
                    : "column '%s' is present here but missing in the first part file %s: part"
                        + " files must have the same columns",
                column.wireName(),
                firstPart.getFileName()));
      }
    }
    throw new IllegalStateException("the column sets differ");
  }

  private TraceFormatException ioError(Path file, IOException e) {
    return new TraceFormatException(
        ErrorCode.IO_ERROR, file, null, String.format(ROOT, "cannot read: %s", e.getMessage()), e);
  }

  @Override
  public Path path() {
    return directory;
  }

  @Override
  public TraceFormat format() {
    return format;
  }

  /** The first part's metadata, plus the keys only later parts hold. */
  @Override
  public TraceMetadata metadata() {
    Map<String, String> values = new LinkedHashMap<>(finishedMetadata);
    if (current != null) {
      current.metadata().asMap().forEach(values::putIfAbsent);
    }
    if (metadata == null || !values.equals(metadataSource)) {
      try {
        metadata = TraceMetadata.of(values);
      } catch (IllegalArgumentException e) {
        throw new TraceFormatException(
            ErrorCode.BAD_METADATA, part, null, TraceMetadata.problem(e), e);
      }
      metadataSource = values;
    }
    return metadata;
  }

  @Override
  public Set<Column> columnsInFile() {
    return columnsInFile.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(columnsInFile);
  }

  @Override
  public TraceDictionary dictionary() {
    return dictionary;
  }

  @Override
  public TraceBatch batch() {
    return batch;
  }

  @Override
  public boolean next() {
    if (closed) {
      throw new IllegalStateException("reader is closed");
    }
    while (!finished) {
      TraceReader reader = current;
      if (reader == null) {
        Path following = nextPart();
        if (following == null) {
          finished = true;
          break;
        }
        reader = open(following);
      }
      if (reader.next()) {
        copy(reader.batch(), reader.dictionary());
        return true;
      }
      finishPart(reader);
    }
    batch.reset(0);
    return false;
  }

  /** The part to read after the current one; null at the end of the trace. */
  private @Nullable Path nextPart() {
    Path following = laterPart();
    if (waiter == null) {
      return following;
    }
    try {
      while (following == null) {
        if (!waiter.pause(Wait.NEXT_PART, false)) {
          return null;
        }
        following = laterPart();
      }
    } catch (IOException e) {
      throw ioError(directory, e);
    }
    waiter.progress();
    return following;
  }

  /** Closes the part read to its end: its truncation, if any, and its metadata are kept. */
  private void finishPart(TraceReader reader) {
    truncated = reader.truncated();
    if (waiter != null && !truncated) {
      waiter.progress(); // its end marker came: the wait for a next part starts now
    }
    if (truncated) {
      for (String warning : reader.warnings()) {
        // the part's unknown phases are counted over the whole trace, here
        if (!warning.startsWith("unknown phase '")) {
          warnings.add(part.getFileName() + ": " + warning);
        }
      }
    }
    reader.metadata().asMap().forEach(finishedMetadata::putIfAbsent);
    reader.close();
    current = null;
  }

  /** Copies the part's batch, its string ids mapped to this reader's dictionary. */
  private void copy(TraceBatch from, TraceDictionary strings) {
    int n = from.size();
    batch.reset(n);
    for (Column column : options.columns()) {
      if (!from.has(column)) {
        continue;
      }
      switch (column.type()) {
        case INT32 -> System.arraycopy(from.ints(column), 0, batch.ints(column), 0, n);
        case INT64 -> System.arraycopy(from.longs(column), 0, batch.longs(column), 0, n);
        case FLOAT64 -> System.arraycopy(from.doubles(column), 0, batch.doubles(column), 0, n);
        case STRING -> mapStrings(column, from.ints(column), batch.ints(column), n, strings);
      }
      boolean[] nulls = from.nullMask(column);
      if (nulls != null) {
        System.arraycopy(nulls, 0, batch.nullMaskForWrite(column), 0, n);
      }
    }
    if (batch.has(Column.PHASE)) {
      unknownPhases.count(batch.ints(Column.PHASE), n);
    }
    rowsRead += n;
  }

  /** Maps string ids (phase codes) of a part to this reader's; each id is looked up once. */
  private void mapStrings(Column column, int[] in, int[] out, int n, TraceDictionary strings) {
    for (int i = 0; i < n; i++) {
      int id = in[i];
      if (id < 0 || (column == Column.PHASE && id < Phase.COUNT)) {
        out[i] = id; // a null layer type, or a known phase's code
        continue;
      }
      int[] map =
          column == Column.LAYER_NAME ? names : column == Column.LAYER_TYPE ? types : phases;
      if (id >= map.length) {
        map = Arrays.copyOf(map, Math.max(id + 1, 2 * map.length));
        if (column == Column.LAYER_NAME) {
          names = map;
        } else if (column == Column.LAYER_TYPE) {
          types = map;
        } else {
          phases = map;
        }
      }
      if (map[id] == 0) {
        map[id] =
            1
                + switch (column) {
                  case LAYER_NAME -> dictionary.layerNameId(strings.layerName(id));
                  case LAYER_TYPE -> dictionary.layerTypeId(strings.layerType(id));
                  default -> dictionary.phaseCode(strings.phaseName(id));
                };
      }
      out[i] = map[id] - 1;
    }
  }

  @Override
  public long rowsRead() {
    return rowsRead;
  }

  @Override
  public long totalRows() {
    return -1;
  }

  /** True when the last part read ended without its end marker. */
  @Override
  public boolean truncated() {
    return truncated || (current != null && current.truncated());
  }

  /** Parts cut before a later part, the last part's cut, then one line per unknown phase. */
  @Override
  public List<String> warnings() {
    List<String> all = new ArrayList<>(warnings);
    all.addAll(unknownPhases.warnings(dictionary));
    return all;
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (current != null) {
      current.close();
      current = null;
    }
  }
}
