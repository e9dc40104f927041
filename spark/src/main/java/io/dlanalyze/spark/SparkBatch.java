package io.dlanalyze.spark;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.batch.BatchResults;
import io.dlanalyze.batch.PreviousResults;
import io.dlanalyze.batch.ResultsOutput;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.batch.TraceAnalysis;
import io.dlanalyze.batch.TraceOutcome;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * The nightly batch on Spark: discover on the driver, one task per trace, assemble and write on the
 * driver. The same tables as {@code dl-analyze batch}: the rows come from the same {@link
 * TraceAnalysis}, the tables from the same {@link BatchResults} and {@link ResultsOutput}.
 */
public final class SparkBatch {
  private SparkBatch() {}

  /** A finished job: its results, notes met on the way, and where they were written. */
  public record Outcome(BatchResults results, List<String> notes, String out) {}

  /**
   * Runs the job.
   *
   * @throws IOException when the output cannot be written
   */
  static Outcome run(SparkSession spark, JobArguments args) throws IOException {
    long start = System.nanoTime();
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Configuration conf = jsc.hadoopConfiguration();
    Path outPath = new Path(args.out());
    FileSystem outFs = outPath.getFileSystem(conf);
    outPath = outFs.makeQualified(outPath);
    String out = HadoopTraces.displayPath(outPath);

    HadoopDiscovery.Found found = HadoopDiscovery.find(args.paths(), outPath, conf);
    List<String> notes = new ArrayList<>(found.notes());
    PreviousResults previous;
    try {
      previous = HadoopOutput.readPrevious(outFs, outPath);
    } catch (IOException e) {
      notes.add(
          "cannot read the previous results ("
              + e.getMessage()
              + "); every trace is analysed again");
      previous = PreviousResults.none();
    }
    TraceAnalysis analysis = new TraceAnalysis(args.settings());

    List<TraceTask> tasks = new ArrayList<>(found.traces().size());
    for (String uri : found.traces()) {
      String path = HadoopTraces.displayPath(new Path(uri));
      RunRow before = args.force() ? null : previous.run(path);
      tasks.add(
          new TraceTask(
              uri,
              path,
              before == null ? null : before.fingerprint(),
              before == null ? null : before.config()));
    }
    List<TaskResult> results = List.of();
    if (!tasks.isEmpty()) {
      Broadcast<SerializableConfiguration> broadcast =
          jsc.broadcast(new SerializableConfiguration(conf));
      try {
        results =
            jsc.parallelize(tasks, tasks.size())
                .map(new AnalyzeTraceFunction(args.settings(), args.force(), broadcast))
                .collect();
      } finally {
        broadcast.destroy();
      }
    }
    List<TraceOutcome> outcomes = new ArrayList<>(results.size());
    for (TaskResult result : results) {
      if (result.skipped()) {
        outcomes.add(
            TraceOutcome.skipped(
                requireNonNull(previous.run(result.path()), "a skipped trace has a previous row"),
                previous.findings(result.path())));
      } else {
        outcomes.add(
            new TraceOutcome(
                false,
                requireNonNull(result.run(), "an analysed trace has a row"),
                result.findings()));
      }
    }
    long elapsed = (System.nanoTime() - start) / 1_000_000;
    BatchResults assembled = BatchResults.assemble(outcomes, previous, analysis.config(), elapsed);
    HadoopOutput.write(outFs, outPath, ResultsOutput.files(assembled, out));
    return new Outcome(assembled, notes, out);
  }
}
