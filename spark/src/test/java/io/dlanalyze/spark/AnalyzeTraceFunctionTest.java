package io.dlanalyze.spark;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.batch.AnalysisSettings;
import io.dlanalyze.batch.Fingerprints;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.batch.RunStatus;
import io.dlanalyze.batch.TraceAnalysis;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The task body on a file system that is not {@code file:}, so traces are copied to the executor.
 */
class AnalyzeTraceFunctionTest {
  /** The local disk under another scheme, standing in for HDFS or S3A. */
  public static final class RemoteFileSystem extends RawLocalFileSystem {
    @Override
    public URI getUri() {
      return URI.create("remote:///");
    }

    @Override
    public String getScheme() {
      return "remote";
    }
  }

  @TempDir Path dir;
  final TraceAnalysis analysis = new TraceAnalysis(AnalysisSettings.defaults());
  final Configuration conf = new Configuration();

  AnalyzeTraceFunctionTest() {
    conf.set("fs.remote.impl", RemoteFileSystem.class.getName());
    conf.setBoolean("fs.remote.impl.disable.cache", true);
  }

  TaskResult run(Path file, RunRow previous) {
    String uri = "remote://" + file.toAbsolutePath();
    return AnalyzeTraceFunction.run(
        new TraceTask(
            uri,
            uri,
            previous == null ? null : previous.fingerprint(),
            previous == null ? null : previous.config()),
        analysis,
        false,
        conf);
  }

  @Test
  void run_remoteTrace_copiedAnalysedAndNamedByItsUri() throws IOException {
    Path trace = TestTraces.write(dir.resolve("nan.arrows"), TestTraces.small(2, Fault.nan(1, 50)));

    TaskResult result = run(trace, null);

    RunRow local = analysis.analyze(trace, trace.toString(), Fingerprints.ofLocal(trace)).run();
    assertThat(result.skipped()).isFalse();
    assertThat(result.run().path()).isEqualTo("remote://" + trace.toAbsolutePath());
    assertThat(result.run().fingerprint()).isEqualTo(local.fingerprint());
    assertThat(result.run().verdict()).isEqualTo("buggy");
    assertThat(result.run().rootCause()).isEqualTo(local.rootCause());
    assertThat(result.findings()).allMatch(f -> f.path().equals(result.run().path())).isNotEmpty();
    try (var files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      assertThat(
              files
                  .filter(p -> p.getFileName().toString().startsWith("dl-analyze-"))
                  .filter(p -> Files.exists(p.resolve("nan.arrows"))))
          .isEmpty();
    }
  }

  @Test
  void run_remoteEmptyFile_errorNamesTheUriNotTheCopy() throws IOException {
    Path empty = Files.createFile(dir.resolve("empty.arrows"));

    RunRow row = run(empty, null).run();

    assertThat(row.status()).isEqualTo(RunStatus.ERROR);
    assertThat(row.errorCode()).isEqualTo("empty");
    assertThat(row.error())
        .isEqualTo("remote://" + empty.toAbsolutePath() + ": file is empty (0 bytes)");
  }

  @Test
  void run_unchangedSincePreviousRow_skippedWithoutAnalysis() throws IOException {
    Path trace = TestTraces.write(dir.resolve("a.arrows"), TestTraces.small(1));
    RunRow previous = run(trace, null).run();

    assertThat(run(trace, previous).skipped()).isTrue();
  }

  @Test
  void run_remoteTensorBoardRun_copiedWithTheTagsFileAboveIt() throws IOException {
    Path run = TestTraces.kerasBuggyRun(dir.resolve("logs/fit-1"));

    TaskResult plain = run(run, null);

    RunRow local = analysis.analyze(run, run.toString(), Fingerprints.ofLocal(run)).run();
    assertThat(plain.run().format()).isEqualTo("tensorboard");
    assertThat(plain.run().verdict()).isEqualTo("buggy").isEqualTo(local.verdict());
    assertThat(plain.run().rootCause()).isEqualTo(local.rootCause());
    assertThat(plain.run().fingerprint()).isEqualTo(local.fingerprint());

    // a tags file two levels up applies to the run: the copy reads it too (here, refuses it)
    Files.writeString(dir.resolve("dl-analyze-tags.json"), "{\"epoch_loss\": \"lossy\"}");
    RunRow tagged = run(run, plain.run()).run();

    RunRow localTagged = analysis.analyze(run, run.toString(), Fingerprints.ofLocal(run)).run();
    assertThat(localTagged.errorCode()).isEqualTo("bad_metadata");
    assertThat(tagged.fingerprint()).isEqualTo(localTagged.fingerprint());
    assertThat(tagged.errorCode()).isEqualTo("bad_metadata");
    // named by its own URI, not by the executor's copy
    assertThat(tagged.error())
        .startsWith("remote:")
        .contains(dir.toAbsolutePath().resolve("dl-analyze-tags.json") + ": tag pattern")
        .contains("\"lossy\" is not a target")
        .doesNotContainPattern("dl-analyze-[0-9]");
  }
}
