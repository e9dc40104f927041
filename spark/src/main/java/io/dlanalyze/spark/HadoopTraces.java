package io.dlanalyze.spark;

import io.dlanalyze.batch.Fingerprint;
import io.dlanalyze.batch.Fingerprints;
import io.dlanalyze.batch.TraceDirectories;
import io.dlanalyze.trace.tensorboard.TensorBoardRun;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.jspecify.annotations.Nullable;

/** Traces on a Hadoop file system: their names in the results and their fingerprints. */
final class HadoopTraces {
  private HadoopTraces() {}

  /** True for the local file system, where tasks read traces in place. */
  static boolean isLocal(Path qualified) {
    return "file".equals(qualified.toUri().getScheme());
  }

  /**
   * A trace's path in the results: the absolute local path for {@code file:} (the same string
   * {@code dl-analyze batch} writes), the full URI otherwise ({@code hdfs://nn/runs/a.arrows}).
   */
  static String displayPath(Path qualified) {
    return isLocal(qualified) ? qualified.toUri().getPath() : qualified.toString();
  }

  /**
   * The fingerprint of a file, or of a directory trace (Parquet or Arrow IPC parts, a TensorBoard
   * run with the tags file that applies to it), by {@link Fingerprints}' rule.
   */
  static Fingerprint fingerprint(FileSystem fs, FileStatus status) throws IOException {
    if (!status.isDirectory()) {
      HadoopPart sidecar = null;
      for (String name : Fingerprints.sidecarNames(status.getPath().getName())) {
        Path candidate = new Path(status.getPath().getParent(), name);
        FileStatus found;
        try {
          found = fs.getFileStatus(candidate);
        } catch (FileNotFoundException e) {
          continue;
        }
        if (found.isFile()) {
          sidecar = new HadoopPart(fs, found);
          break;
        }
      }
      return Fingerprints.ofFile(new HadoopPart(fs, status), sidecar);
    }
    Path dir = status.getPath();
    HadoopListing listing = new HadoopListing(fs, dir);
    List<HadoopPart> parts = new ArrayList<>();
    for (String name :
        TraceDirectories.files(java.nio.file.Path.of(dir.toUri().getPath()), listing)) {
      parts.add(new HadoopPart(fs, fs.getFileStatus(new Path(dir, name)), name));
    }
    if (TraceDirectories.kind(dir.getName(), listing) == TraceDirectories.Kind.TENSORBOARD_RUN) {
      Path tags = tagsFile(fs, dir);
      if (tags != null) {
        parts.add(new HadoopPart(fs, fs.getFileStatus(tags), TensorBoardRun.TAGS_FILE));
      }
    }
    return Fingerprints.ofParts(parts);
  }

  /**
   * The TensorBoard tag mapping file that applies to a run read from {@code dir}: {@value
   * TensorBoardRun#TAGS_FILE} in it or in the nearest parent that has one, as {@link
   * TensorBoardRun#tagsFile} looks for it on the local disk; null when there is none.
   */
  static @Nullable Path tagsFile(FileSystem fs, Path dir) throws IOException {
    for (Path at = dir; at != null; at = at.getParent()) {
      Path tags = new Path(at, TensorBoardRun.TAGS_FILE);
      if (fs.exists(tags)) {
        return tags;
      }
    }
    return null;
  }

  /** A directory's listing on a Hadoop file system, for {@link TraceDirectories}. */
  record HadoopListing(FileSystem fs, Path dir) implements TraceDirectories.Listing {
    static List<TraceDirectories.Entry> entries(FileStatus[] children) {
      List<TraceDirectories.Entry> entries = new ArrayList<>(children.length);
      for (FileStatus child : children) {
        entries.add(
            new TraceDirectories.Entry(
                child.getPath().getName(), child.isDirectory(), child.isFile()));
      }
      return entries;
    }

    @Override
    public List<TraceDirectories.Entry> entries() throws IOException {
      return entries(fs.listStatus(dir));
    }

    @Override
    public List<TraceDirectories.Entry> entries(String name) throws IOException {
      return entries(fs.listStatus(new Path(dir, name)));
    }
  }

  /** One file on a Hadoop file system, read with positioned reads. */
  private static final class HadoopPart implements Fingerprints.Part {
    private final FileSystem fs;
    private final FileStatus status;

    private final String name;

    HadoopPart(FileSystem fs, FileStatus status) {
      this(fs, status, status.getPath().getName());
    }

    HadoopPart(FileSystem fs, FileStatus status, String name) {
      this.fs = fs;
      this.status = status;
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public long size() {
      return status.getLen();
    }

    @Override
    public long modifiedMillis() {
      return status.getModificationTime();
    }

    @Override
    public void read(long position, byte[] buffer, int length) throws IOException {
      try (FSDataInputStream in = fs.open(status.getPath())) {
        in.readFully(position, buffer, 0, length);
      }
    }
  }
}
