package io.dlanalyze.spark;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.batch.BatchResults;
import io.dlanalyze.batch.ResultsOutput;
import io.dlanalyze.trace.TraceFormatException;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.SparkSession;

/**
 * The job's main class, for {@code spark-submit --class io.dlanalyze.spark.SparkBatchJob
 * dl-analyze-spark-job.jar PATH... --out DIR}. Prints the summary on standard output and exits with
 * {@code dl-analyze batch}'s codes: 0 healthy, 3 some trace buggy, 4 some trace unreadable (or a
 * PATH missing), 2 bad arguments, 5 output not written.
 */
public final class SparkBatchJob {
  static final int OK = 0;
  static final int USAGE = 2;
  static final int FAULT_FOUND = 3;
  static final int BAD_INPUT = 4;
  static final int OUTPUT_ERROR = 5;

  private SparkBatchJob() {}

  public static void main(String[] args) {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
    JobArguments parsed;
    try {
      parsed = JobArguments.parse(args);
    } catch (IllegalArgumentException e) {
      err.println("dl-analyze-spark: error: " + e.getMessage());
      System.exit(USAGE);
      return;
    }
    SparkSession spark = SparkSession.builder().appName("dl-analyze batch").getOrCreate();
    int code;
    try {
      code = run(spark, parsed, out, err);
    } finally {
      spark.stop();
    }
    System.exit(code);
  }

  /** Runs the job in an existing session and returns the exit code. */
  static int run(SparkSession spark, JobArguments args, PrintStream out, PrintStream err) {
    SparkBatch.Outcome outcome;
    try {
      outcome = SparkBatch.run(spark, args);
    } catch (TraceFormatException e) {
      err.println("dl-analyze-spark: error: " + e.getMessage());
      return BAD_INPUT;
    } catch (IllegalArgumentException e) {
      err.println("dl-analyze-spark: error: " + e.getMessage());
      return USAGE;
    } catch (IOException e) {
      err.println(
          "dl-analyze-spark: error: "
              + args.out()
              + ": cannot write the results: "
              + e.getMessage());
      return OUTPUT_ERROR;
    } catch (UncheckedIOException e) {
      // Listing the input failed (a name node or bucket that cannot be reached, permissions).
      err.println(
          "dl-analyze-spark: error: cannot list the input: "
              + requireNonNull(e.getCause(), "an UncheckedIOException has a cause").getMessage());
      return BAD_INPUT;
    }
    for (String note : outcome.notes()) {
      err.println("dl-analyze-spark: note: " + note);
    }
    BatchResults results = outcome.results();
    out.print(args.summaryFormat().render(results, outcome.out()));
    out.flush();
    err.println(
        "dl-analyze-spark: wrote "
            + String.join(", ", ResultsOutput.fileNames())
            + " to "
            + outcome.out());
    return switch (results.health()) {
      case HEALTHY -> OK;
      case BUGGY -> FAULT_FOUND;
      case UNREADABLE -> BAD_INPUT;
    };
  }
}
