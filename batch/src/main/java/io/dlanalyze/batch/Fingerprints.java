package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.PartFiles;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.csv.CsvSidecar;
import io.dlanalyze.trace.tensorboard.TensorBoardRun;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The fingerprint rule: size, last-modified time, and a SHA-256 of the first and last {@link
 * #EDGE_BYTES} bytes of the file (the whole file when it is at most twice that).
 *
 * <p>Why head and tail, not a full hash: the fingerprint is computed for every trace every night,
 * changed or not, and a full hash would read the whole archive again (1 TB for 10,000 traces) just
 * to find that nothing changed; head and tail read 128 KiB per trace (1.3 GB for 10,000). The three
 * parts together catch the ways a trace changes in practice: a recorder that appends (size and tail
 * change), a rewrite or a copy over it (mtime changes, and the Parquet footer or the Arrow file
 * footer at the tail changes with any change to the data), a file replaced by an older copy with
 * its time preserved ({@code cp -p}, {@code rsync -t}: size or hash differ). What it misses: an
 * in-place edit of the middle of a large file that keeps its size, mtime, head and tail; no trace
 * writer does that, and {@code --force} re-analyses everything.
 *
 * <p>A CSV trace with a sidecar ({@code run.csv.meta.json}, or {@code run.meta.json}): the hash
 * also covers the sidecar (its name, size, time, head and tail), so new metadata re-analyses the
 * trace.
 *
 * <p>A directory of part files (Parquet, or Arrow IPC: a recorder's part directory): size is the
 * sum, mtime the latest, and the hash covers each part in name order (its name, its size, its head
 * and tail), so adding, removing, renaming or changing a part changes the fingerprint.
 *
 * <p>A TensorBoard run directory: the same over all its event files (named by their path in the
 * run, {@code train/events.out.tfevents...}, so adding a validation file changes it) and the tags
 * file that applies to it ({@code dl-analyze-tags.json}), whose edit changes what the run reads as.
 *
 * <p>The local batch and the Spark job hash the same bytes ({@link Part} abstracts the file
 * system), so the same trace has the same fingerprint on both.
 */
public final class Fingerprints {
  /** Bytes hashed at each end of a file. */
  public static final int EDGE_BYTES = 64 * 1024;

  private Fingerprints() {}

  /** One file of a trace, on any file system. */
  public interface Part {
    /** The file name (without directories). */
    String name();

    long size();

    long modifiedMillis();

    /** Reads exactly {@code length} bytes at {@code position}. */
    void read(long position, byte[] buffer, int length) throws IOException;
  }

  /** The fingerprint of a single-file trace. */
  public static Fingerprint ofFile(Part file) throws IOException {
    return ofFile(file, null);
  }

  /**
   * The fingerprint of a single-file trace with its CSV sidecar, or without one ({@code sidecar}
   * null: the same as {@link #ofFile(Part)}). Size and time are the trace's; the hash also covers
   * the sidecar's name, size, time and its head and tail, so an edited sidecar re-analyses the
   * trace.
   */
  public static Fingerprint ofFile(Part file, @Nullable Part sidecar) throws IOException {
    MessageDigest digest = sha256();
    hashEdges(file, digest);
    if (sidecar != null) {
      digest.update((byte) 0);
      digest.update(sidecar.name().getBytes(StandardCharsets.UTF_8));
      digest.update((byte) 0);
      ByteBuffer numbers = ByteBuffer.allocate(2 * Long.BYTES);
      numbers.putLong(sidecar.size()).putLong(sidecar.modifiedMillis());
      digest.update(numbers.array());
      hashEdges(sidecar, digest);
    }
    return new Fingerprint(file.size(), file.modifiedMillis(), hex(digest));
  }

  /**
   * The names the CSV reader looks for the sidecar of a trace named {@code name} under, in its
   * order of preference ({@code run.csv.meta.json}, then {@code run.meta.json}); empty for a name
   * that is not a CSV name. The first that is a regular file is the sidecar.
   */
  public static List<String> sidecarNames(String name) {
    if (!name.toLowerCase(Locale.ROOT).endsWith(".csv")) {
      return List.of();
    }
    Path csv = Path.of(name);
    List<String> names = new ArrayList<>();
    names.add(CsvSidecar.path(csv).getFileName().toString());
    Path alternate = CsvSidecar.alternatePath(csv);
    if (alternate != null) {
      names.add(alternate.getFileName().toString());
    }
    return names;
  }

  /** The fingerprint of a directory of part files; {@code parts} in any order. */
  public static Fingerprint ofParts(List<? extends Part> parts) throws IOException {
    List<Part> sorted = new ArrayList<>(parts);
    sorted.sort((a, b) -> a.name().compareTo(b.name()));
    MessageDigest digest = sha256();
    long size = 0;
    long modified = 0;
    ByteBuffer number = ByteBuffer.allocate(Long.BYTES);
    for (Part part : sorted) {
      digest.update(part.name().getBytes(StandardCharsets.UTF_8));
      digest.update((byte) 0);
      number.clear();
      digest.update(number.putLong(0, part.size()).array());
      hashEdges(part, digest);
      size += part.size();
      modified = Math.max(modified, part.modifiedMillis());
    }
    return new Fingerprint(size, modified, hex(digest));
  }

  /**
   * The fingerprint of a local trace: a file, or a directory of part files (the parts the reader
   * reads, {@link PartFiles#list}: Parquet, else Arrow IPC), or a TensorBoard run directory.
   *
   * @throws IOException when the trace cannot be read
   */
  public static Fingerprint ofLocal(Path trace) throws IOException {
    if (!Files.isDirectory(trace)) {
      if (!Files.isRegularFile(trace)) {
        // never opened: reading a named pipe blocks until someone writes to it
        throw new IOException(trace + ": not a regular file");
      }
      LocalPart sidecar = null;
      for (String name : sidecarNames(trace.getFileName().toString())) {
        Path candidate = trace.resolveSibling(name);
        if (Files.isRegularFile(candidate)) {
          sidecar = new LocalPart(candidate);
          break;
        }
      }
      return ofFile(new LocalPart(trace), sidecar);
    }
    if (TraceReaders.detect(trace) == TraceFormat.TENSORBOARD) {
      List<LocalPart> parts = new ArrayList<>();
      for (TensorBoardRun.EventFile file : TensorBoardRun.eventFiles(trace)) {
        parts.add(new LocalPart(file.path(), file.name()));
      }
      var tags = TensorBoardRun.tagsFile(trace);
      if (tags.isPresent()) {
        parts.add(new LocalPart(tags.get(), TensorBoardRun.TAGS_FILE));
      }
      return ofParts(parts);
    }
    List<LocalPart> parts = new ArrayList<>();
    for (Path file : PartFiles.list(trace)) {
      parts.add(new LocalPart(file));
    }
    return ofParts(parts);
  }

  /**
   * The fingerprint of a local trace, or an {@link Fingerprint#unavailable} one with whatever size
   * and time could be read when the content cannot.
   */
  public static Fingerprint ofLocalOrUnavailable(Path trace) {
    try {
      return ofLocal(trace);
    } catch (IOException | RuntimeException e) {
      long size = 0;
      long modified = 0;
      try {
        size = Files.isDirectory(trace) ? 0 : Files.size(trace);
        modified = Files.getLastModifiedTime(trace).toMillis();
      } catch (IOException | RuntimeException ignored) {
        // Nothing more to know; the analysis will report why the trace cannot be read.
      }
      return Fingerprint.unavailable(size, modified);
    }
  }

  private static void hashEdges(Part part, MessageDigest digest) throws IOException {
    long size = part.size();
    if (size <= 2L * EDGE_BYTES) {
      byte[] all = new byte[(int) size];
      part.read(0, all, all.length);
      digest.update(all);
      return;
    }
    byte[] edge = new byte[EDGE_BYTES];
    part.read(0, edge, EDGE_BYTES);
    digest.update(edge);
    part.read(size - EDGE_BYTES, edge, EDGE_BYTES);
    digest.update(edge);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }

  private static String hex(MessageDigest digest) {
    return "sha256:" + HexFormat.of().formatHex(digest.digest());
  }

  /** A file on the local file system. */
  private static final class LocalPart implements Part {
    private final Path path;
    private final String name;
    private final long size;
    private final long modified;

    LocalPart(Path path) throws IOException {
      this(path, path.getFileName().toString());
    }

    LocalPart(Path path, String name) throws IOException {
      this.path = path;
      this.name = name;
      this.size = Files.size(path);
      this.modified = Files.getLastModifiedTime(path).toMillis();
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public long size() {
      return size;
    }

    @Override
    public long modifiedMillis() {
      return modified;
    }

    @Override
    public void read(long position, byte[] buffer, int length) throws IOException {
      try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
        ByteBuffer target = ByteBuffer.wrap(buffer, 0, length);
        long at = position;
        while (target.hasRemaining()) {
          int n = channel.read(target, at);
          if (n < 0) {
            throw new IOException(
                format(
                    ROOT,
                    "%s: file ended at byte %d while reading %d bytes at %d",
                    path,
                    at,
                    length,
                    position));
          }
          at += n;
        }
      }
    }
  }
}
