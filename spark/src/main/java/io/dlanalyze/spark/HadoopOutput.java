package io.dlanalyze.spark;

import io.dlanalyze.batch.PreviousResults;
import io.dlanalyze.batch.ResultsOutput;
import io.dlanalyze.batch.ResultsTables;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

/**
 * The output directory on a Hadoop file system: reads the previous results tables and writes the
 * new files from the driver. The tables are small (about 1 KB per trace), so they are encoded in
 * memory and each file is written whole.
 *
 * <p>On {@code file:} the files go through {@link ResultsOutput#writeLocal} (temporary file and
 * atomic rename, as {@code dl-analyze batch}). Elsewhere each file is written to a hidden temporary
 * name in the directory, then renamed over the target with {@code Rename.OVERWRITE}: atomic on
 * HDFS; on S3A a rename is a copy, so a reader sees either the old or the new object, never a
 * partial one.
 */
final class HadoopOutput {
  private HadoopOutput() {}

  /** The previous results in {@code dir}, or none when it holds no runs table. */
  static PreviousResults readPrevious(FileSystem fs, Path dir) throws IOException {
    Path runs = new Path(dir, ResultsTables.RUNS_FILE);
    if (!fs.exists(runs)) {
      return PreviousResults.none();
    }
    Path findings = new Path(dir, ResultsTables.FINDINGS_FILE);
    byte[] findingBytes =
        fs.exists(findings) ? read(fs, findings) : ResultsTables.writeFindings(List.of());
    return PreviousResults.read(read(fs, runs), findingBytes);
  }

  /** Writes each file into {@code dir} (created if missing), in order. */
  static void write(FileSystem fs, Path dir, Map<String, byte[]> files) throws IOException {
    if (HadoopTraces.isLocal(dir)) {
      ResultsOutput.writeLocal(java.nio.file.Path.of(dir.toUri()), files);
      return;
    }
    fs.mkdirs(dir);
    FileContext context = FileContext.getFileContext(dir.toUri(), fs.getConf());
    for (Map.Entry<String, byte[]> file : files.entrySet()) {
      Path target = new Path(dir, file.getKey());
      Path temporary = new Path(dir, "." + file.getKey() + "." + UUID.randomUUID() + ".tmp");
      try {
        try (FSDataOutputStream out = fs.create(temporary, true)) {
          out.write(file.getValue());
        }
        context.rename(temporary, target, Options.Rename.OVERWRITE);
      } finally {
        if (fs.exists(temporary)) {
          fs.delete(temporary, false);
        }
      }
    }
  }

  private static byte[] read(FileSystem fs, Path file) throws IOException {
    try (InputStream in = fs.open(file)) {
      return in.readAllBytes();
    }
  }
}
