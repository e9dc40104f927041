package io.dlanalyze.spark;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.Fingerprint;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.batch.TraceAnalysis;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;

/**
 * The body of one Spark task: fingerprint the trace through Hadoop's file system; if it is
 * unchanged since its previous row, report it skipped; otherwise analyse it with {@link
 * TraceAnalysis}, the code {@code dl-analyze batch} runs.
 *
 * <p>The readers need a local file: a trace on {@code file:} is read in place; one on any other
 * file system (HDFS, S3A) is first copied to a temporary directory under {@code java.io.tmpdir} on
 * the executor (the executor's scratch disk needs room for one trace per core), analysed, and
 * deleted. Its error messages name the original URI, not the copy.
 */
final class AnalyzeTraceFunction implements Function<TraceTask, TaskResult> {
  private static final long serialVersionUID = 1L;

  private final AnalysisSettings settings;
  private final boolean force;
  private final Broadcast<SerializableConfiguration> conf;

  AnalyzeTraceFunction(
      AnalysisSettings settings, boolean force, Broadcast<SerializableConfiguration> conf) {
    this.settings = settings;
    this.force = force;
    this.conf = conf;
  }

  @Override
  public TaskResult call(TraceTask task) {
    return run(task, new TraceAnalysis(settings), force, conf.value().toConfiguration());
  }

  /** One trace, outside Spark's function interface (the driver's tests call it too). */
  static TaskResult run(TraceTask task, TraceAnalysis analysis, boolean force, Configuration conf) {
    org.apache.hadoop.fs.Path path = new org.apache.hadoop.fs.Path(URI.create(task.uri()));
    FileSystem fs;
    FileStatus status;
    Fingerprint fingerprint;
    try {
      fs = path.getFileSystem(conf);
      status = fs.getFileStatus(path);
    } catch (IOException e) {
      return failed(
          task,
          analysis,
          "not_found",
          format(ROOT, "%s: cannot be opened: %s", task.path(), e.getMessage()));
    }
    try {
      fingerprint = HadoopTraces.fingerprint(fs, status);
    } catch (IOException | RuntimeException e) {
      fingerprint =
          Fingerprint.unavailable(
              status.isDirectory() ? 0 : status.getLen(), status.getModificationTime());
    }
    if (!force
        && analysis.config().equals(task.previousConfig())
        && fingerprint.sameAs(task.previousFingerprint())) {
      return TaskResult.skipped(task.path());
    }
    if (HadoopTraces.isLocal(path)) {
      TraceAnalysis.Result result =
          analysis.analyze(Path.of(path.toUri()), task.path(), fingerprint);
      return new TaskResult(task.path(), false, result.run(), result.findings());
    }
    Path scratch = null;
    try {
      scratch = Files.createTempDirectory("dl-analyze-");
      Path local = scratch.resolve(path.getName());
      fs.copyToLocalFile(false, path, new org.apache.hadoop.fs.Path(local.toUri()), true);
      TraceAnalysis.Result result = analysis.analyze(local, task.path(), fingerprint);
      return new TaskResult(task.path(), false, result.run(), result.findings());
    } catch (IOException e) {
      return failed(
          task,
          analysis,
          "io_error",
          format(ROOT, "%s: cannot copy to the executor: %s", task.path(), e.getMessage()));
    } finally {
      delete(scratch);
    }
  }

  private static TaskResult failed(
      TraceTask task, TraceAnalysis analysis, String code, String message) {
    RunRow row =
        RunRow.error(
            task.path(),
            null,
            Fingerprint.unavailable(0, 0),
            analysis.config(),
            code,
            message.replaceAll("\\s*[\\r\\n]+\\s*", " "),
            0,
            System.currentTimeMillis());
    return new TaskResult(task.path(), false, row, java.util.List.of());
  }

  private static void delete(Path directory) {
    if (directory == null) {
      return;
    }
    try (Stream<Path> files = Files.walk(directory)) {
      for (Path file : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(file);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
