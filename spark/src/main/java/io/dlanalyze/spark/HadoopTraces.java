package io.dlanalyze.spark;

import io.dlanalyze.batch.Fingerprint;
import io.dlanalyze.batch.Fingerprints;
import io.dlanalyze.batch.TraceNames;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

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

  /** The fingerprint of a file, or of a directory of part files, by {@link Fingerprints}' rule. */
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
    List<HadoopPart> parts = new ArrayList<>();
    for (FileStatus child : fs.listStatus(status.getPath())) {
      if (child.isFile() && TraceNames.isPartFile(child.getPath().getName())) {
        parts.add(new HadoopPart(fs, child));
      }
    }
    return Fingerprints.ofParts(parts);
  }

  /** One file on a Hadoop file system, read with positioned reads. */
  private static final class HadoopPart implements Fingerprints.Part {
    private final FileSystem fs;
    private final FileStatus status;

    HadoopPart(FileSystem fs, FileStatus status) {
      this.fs = fs;
      this.status = status;
    }

    @Override
    public String name() {
      return status.getPath().getName();
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
