package io.dlanalyze.spark;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.Fingerprint;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.batch.TraceAnalysis;
import io.dlanalyze.batch.TraceDirectories;
import io.dlanalyze.trace.tensorboard.TensorBoardRun;
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
import org.jspecify.annotations.Nullable;

/**
 * The body of one Spark task: fingerprint the trace through Hadoop's file system; if it is
 * unchanged since its previous row, report it skipped; otherwise analyse it with {@link
 * TraceAnalysis}, the code {@code dl-analyze batch} runs.
 *
 * <p>The readers need a local file: a trace on {@code file:} is read in place; one on any other
 * file system (HDFS, S3A) is first copied to a temporary directory under {@code java.io.tmpdir} on
 * the executor (the executor's scratch disk needs room for one trace per core), analysed, and
 * deleted. Its error messages name the original URI, not the copy. A TensorBoard run's tag mapping
 * file in a parent directory is copied beside it.
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
      Path tags = copyTagsFile(fs, status, scratch);
      TraceAnalysis.Result result = analysis.analyze(local, task.path(), fingerprint);
      RunRow row = result.run();
      if (tags != null && row.error() != null) {
        org.apache.hadoop.fs.Path original =
            requireNonNull(tagsOf(fs, status), "the run's tags file was copied");
        row = renamed(row, tags.toString(), HadoopTraces.displayPath(original));
      }
      return new TaskResult(task.path(), false, row, result.findings());
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

  /**
   * A TensorBoard run (or event file) reads with the tag mapping file of its directory or of the
   * nearest parent: one above the run is copied beside the copy, where the reader finds it.
   *
   * @return the copy, or null when none was needed
   */
  private static @Nullable Path copyTagsFile(FileSystem fs, FileStatus status, Path scratch)
      throws IOException {
    org.apache.hadoop.fs.Path tags = tagsOf(fs, status);
    if (tags == null || (status.isDirectory() && tags.getParent().equals(status.getPath()))) {
      return null;
    }
    Path copy = scratch.resolve(TensorBoardRun.TAGS_FILE);
    fs.copyToLocalFile(false, tags, new org.apache.hadoop.fs.Path(copy.toUri()), true);
    return copy;
  }

  /** The tag mapping file that applies to a TensorBoard run or event file; null for others. */
  private static org.apache.hadoop.fs.@Nullable Path tagsOf(FileSystem fs, FileStatus status)
      throws IOException {
    org.apache.hadoop.fs.Path path = status.getPath();
    boolean run =
        status.isDirectory()
            ? TraceDirectories.kind(path.getName(), new HadoopTraces.HadoopListing(fs, path))
                == TraceDirectories.Kind.TENSORBOARD_RUN
            : TensorBoardRun.isEventFileName(path.getName());
    return run ? HadoopTraces.tagsFile(fs, status.isDirectory() ? path : path.getParent()) : null;
  }

  /** An error row whose message names {@code original} instead of the local copy {@code copy}. */
  private static RunRow renamed(RunRow row, String copy, String original) {
    String error = requireNonNull(row.error(), "only an error row is renamed");
    if (!error.contains(copy)) {
      return row;
    }
    return RunRow.error(
        row.path(),
        row.format(),
        row.fingerprint(),
        row.config(),
        requireNonNull(row.errorCode(), "an error row has its code"),
        error.replace(copy, original),
        row.analysisMillis(),
        row.analyzedAtMillis());
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

  private static void delete(@Nullable Path directory) {
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
