package io.dlanalyze.spark;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.BatchListener;
import io.dlanalyze.batch.BatchResults;
import io.dlanalyze.batch.BatchRunner;
import io.dlanalyze.batch.LocalDiscovery;
import io.dlanalyze.batch.PreviousResults;
import io.dlanalyze.batch.ResultsOutput;
import io.dlanalyze.batch.ResultsTables;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped job jar on the class path a cluster gives it: Spark 4.2 with Spark's own parquet-mr
 * 1.17.0 (not our 1.18.1) and none of our modules unshaded. The jar must bring everything it needs
 * relocated, and produce the same runs table as the local batch, with the same YAML config file.
 */
class SparkJobJarIT {
  @TempDir Path dir;

  @Test
  void jobJar_onSparksOwnClassPath_sameRunsTableAsTheLocalBatch() throws Exception {
    Path input = dir.resolve("in");
    TestTraces.write(input.resolve("healthy.parquet"), TestTraces.small(1));
    TestTraces.write(input.resolve("nan.arrows"), TestTraces.small(2, Fault.nan(1, 40)));
    TestTraces.write(input.resolve("dead.arrow"), TestTraces.small(3, Fault.deadLayer(1, 30)));
    Files.writeString(input.resolve("corrupt.parquet"), "not parquet");
    // the faults are all in fc1: excluded, every readable trace is healthy
    Path config =
        Files.writeString(
            dir.resolve("nightly.yaml"), "exclude-layers: [fc1]\nthresholds:\n  window: 40\n");
    Path local = dir.resolve("local");
    List<Path> traces = LocalDiscovery.find(List.of(input.toString()), local).traces();
    AnalysisSettings settings =
        new AnalysisSettings(
            null, java.util.Map.of(), null, List.of(), AnalysisSettings.ConfigFile.read(config));
    BatchResults batch =
        new BatchRunner(settings, 1, false)
            .run(traces, PreviousResults.none(), BatchListener.none());
    ResultsOutput.writeLocal(local, batch);
    Path distributed = dir.resolve("spark");

    String classPath = sparkClassPath();
    Process process = launch(classPath, input, distributed, config);

    assertThat(classPath)
        .contains("parquet-hadoop-1.17.0.jar")
        .doesNotContain("parquet-hadoop-1.18.1.jar")
        .doesNotContain(File.separator + "io" + File.separator + "dlanalyze" + File.separator);
    assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
    String log = Files.readString(dir.resolve("job.log"));
    assertThat(process.exitValue()).as(log).isEqualTo(SparkBatchJob.BAD_INPUT);
    assertThat(Files.readString(dir.resolve("job.out")))
        .contains("3 healthy, 0 buggy, 0 inconclusive, 1 unreadable");
    assertThat(runs(distributed))
        .isEqualTo(runs(local))
        .extracting(RunRow::config)
        .allMatch(c -> c.contains("; config=sha256:"));
  }

  /** This test's class path minus our modules and parquet-mr, plus Spark's own parquet-mr. */
  static String sparkClassPath() throws IOException {
    if (System.getProperty("job.jar") == null) {
      throw new IllegalStateException(
          "run by failsafe (mvn verify), which builds the job jar and sets job.jar");
    }
    List<String> entries = new ArrayList<>();
    entries.add(System.getProperty("job.jar"));
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String name = Path.of(entry).getFileName().toString();
      boolean ours =
          entry.contains(File.separator + "io" + File.separator + "dlanalyze" + File.separator)
              || entry.endsWith("classes")
              || name.startsWith("dl-analyze");
      boolean parquet =
          entry.contains(
              File.separator
                  + "org"
                  + File.separator
                  + "apache"
                  + File.separator
                  + "parquet"
                  + File.separator);
      boolean testOnly =
          name.startsWith("junit-")
              || name.startsWith("assertj-")
              || name.startsWith("surefire")
              || name.startsWith("common-java5")
              || name.startsWith("opentest4j")
              || name.startsWith("apiguardian");
      if (!ours && !parquet && !testOnly) {
        entries.add(entry);
      }
    }
    try (Stream<Path> jars = Files.list(Path.of(System.getProperty("spark.parquet.dir")))) {
      jars.sorted().forEach(jar -> entries.add(jar.toString()));
    }
    return String.join(File.pathSeparator, entries);
  }

  Process launch(String classPath, Path input, Path out, Path config) throws IOException {
    Path log4j = dir.resolve("log4j2.properties");
    Files.writeString(log4j, "rootLogger.level = error\n");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(List.of(System.getProperty("spark.jvm.flags").trim().split("\\s+")));
    command.addAll(
        List.of(
            "-Xmx768m",
            "-Dspark.master=local[2]",
            "-Dspark.ui.enabled=false",
            "-Dspark.driver.bindAddress=127.0.0.1",
            "-Dspark.driver.host=127.0.0.1",
            "-Dlog4j2.configurationFile=" + log4j.toUri(),
            "-cp",
            classPath,
            SparkBatchJob.class.getName(),
            input.toString(),
            "--out",
            out.toString(),
            "--config",
            config.toString()));
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
    builder.redirectOutput(dir.resolve("job.out").toFile());
    builder.redirectError(dir.resolve("job.log").toFile());
    return builder.start();
  }

  static List<RunRow> runs(Path results) throws IOException {
    List<RunRow> rows = new ArrayList<>();
    for (RunRow row :
        ResultsTables.readRuns(
            Files.readAllBytes(results.resolve(ResultsTables.RUNS_FILE)), "runs")) {
      rows.add(row.withoutTiming());
    }
    return rows;
  }
}
