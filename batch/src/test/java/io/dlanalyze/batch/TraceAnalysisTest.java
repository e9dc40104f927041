package io.dlanalyze.batch;

import static io.dlanalyze.trace.TestTraces.small;
import static io.dlanalyze.trace.TestTraces.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.trace.synthetic.Fault;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceAnalysisTest {
  @TempDir Path dir;
  final TraceAnalysis analysis = new TraceAnalysis(AnalysisSettings.defaults());

  @Test
  void analyze_nanTrace_rowNamesVerdictRootCauseAndTopFinding() throws IOException {
    Path trace = write(dir.resolve("nan.arrows"), small(1, Fault.nan(2, 120)));
    Fingerprint fingerprint = Fingerprints.ofLocal(trace);

    TraceAnalysis.Result result = analysis.analyze(trace, trace.toString(), fingerprint);

    RunRow run = result.run();
    assertThat(run.status()).isEqualTo(RunStatus.OK);
    assertThat(run.format()).isEqualTo("arrow-stream");
    assertThat(run.fingerprint()).isEqualTo(fingerprint);
    assertThat(run.verdict()).isEqualTo("buggy");
    assertThat(run.rootScope()).isEqualTo("layer");
    assertThat(run.rootLayerIndex()).isEqualTo(2);
    assertThat(run.rootLayer()).isEqualTo("fc2");
    assertThat(run.topSymptom()).isEqualTo("numerical_error");
    assertThat(run.topLayer()).isEqualTo("fc2");
    assertThat(run.topPhase()).isEqualTo("forward");
    assertThat(run.topFirstStep()).isEqualTo(120L);
    assertThat(run.rows()).isEqualTo(small(1).totalRows());
    assertThat(run.steps()).isEqualTo(200L);
    assertThat(run.runId()).isEqualTo("synthetic-1");
    assertThat(run.findings()).isEqualTo(result.findings().size()).isPositive();
    assertThat(
            run.findingsInfo()
                + run.findingsWarning()
                + run.findingsError()
                + run.findingsCritical())
        .isEqualTo(run.findings());
    for (int i = 0; i < result.findings().size(); i++) {
      assertThat(result.findings().get(i).rank()).isEqualTo(i + 1);
    }
    FindingRow top = result.findings().get(0);
    assertThat(top.path()).isEqualTo(trace.toString());
    assertThat(top.detector()).isEqualTo(run.topDetector());
    assertThat(top.evidence()).startsWith("{").endsWith("}");
  }

  @Test
  void analyze_emptyFile_errorRowWithOneLineMessage() throws IOException {
    Path empty = Files.createFile(dir.resolve("empty.arrows"));

    RunRow run = analysis.analyze(empty, empty.toString(), Fingerprints.ofLocal(empty)).run();

    assertThat(run.status()).isEqualTo(RunStatus.ERROR);
    assertThat(run.errorCode()).isEqualTo("empty");
    assertThat(run.error()).isEqualTo(empty + ": file is empty (0 bytes)");
    assertThat(run.verdict()).isNull();
    assertThat(run.findings()).isZero();
  }

  @Test
  void analyze_localCopy_messageNamesTheOriginalPath() throws IOException {
    Path copy = Files.createFile(dir.resolve("copy.arrows"));

    RunRow run =
        analysis.analyze(copy, "hdfs://nn/runs/a.arrows", Fingerprints.ofLocal(copy)).run();

    assertThat(run.path()).isEqualTo("hdfs://nn/runs/a.arrows");
    assertThat(run.error())
        .isEqualTo("hdfs://nn/runs/a.arrows: file is empty (0 bytes)")
        .doesNotContain(copy.toString());
  }

  @Test
  void oneLine_multiLineMessage_joinedWithSpaces() {
    assertThat(TraceAnalysis.oneLine("first\n  second\r\nthird", Path.of("/x"), "/x"))
        .isEqualTo("first second third");
  }

  @Test
  void options_readAheadOff_oneThreadPerJob() {
    assertThat(AnalysisSettings.defaults().options().readAhead()).isFalse();
  }

  @Test
  void config_namesVersionModeAndDetectors() {
    assertThat(analysis.config())
        .startsWith("dl-analyze " + BatchVersion.get() + "; mode=default; detectors=")
        .contains("numerical-error")
        .containsPattern("thresholds=sha256:[0-9a-f]{12}$");
    assertThat(new TraceAnalysis(new AnalysisSettings(AnalysisMode.DEEPLOCALIZE)).config())
        .isNotEqualTo(analysis.config());
  }

  @Test
  void config_withConfigFile_endsWithTheHashOfItsText() {
    AnalysisSettings.ConfigFile file =
        new AnalysisSettings.ConfigFile("c.yaml", "thresholds:\n  window: 30\n");
    AnalysisSettings.ConfigFile edited =
        new AnalysisSettings.ConfigFile("c.yaml", "thresholds:\n  window: 30 # more steps\n");
    String config =
        new TraceAnalysis(
                new AnalysisSettings(null, java.util.Map.of(), null, java.util.List.of(), file))
            .config();

    assertThat(config).containsPattern("; config=sha256:[0-9a-f]{12}$");
    assertThat(
            new TraceAnalysis(
                    new AnalysisSettings(
                        null, java.util.Map.of(), null, java.util.List.of(), edited))
                .config())
        .isNotEqualTo(config);
    assertThat(analysis.config()).doesNotContain("config=");
  }

  @Test
  void analyze_namedPipe_ioErrorRowWithoutOpeningIt() throws Exception {
    Path fifo = dir.resolve("run.csv");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();

    TraceAnalysis.Result result =
        analysis.analyze(fifo, fifo.toString(), Fingerprints.ofLocalOrUnavailable(fifo));

    assertThat(result.run().status()).isEqualTo(RunStatus.ERROR);
    assertThat(result.run().errorCode()).isEqualTo("io_error");
    assertThat(result.run().format()).isNull();
    assertThat(result.run().error())
        .isEqualTo(
            fifo
                + ": not a regular file but a named pipe (FIFO): a trace must be a regular file"
                + " or a directory of part files");
  }

  @Test
  void inWords_javaClassNamesAreShortened_noMessageGivesAPhrase() {
    assertThat(
            TraceAnalysis.inWords(
                new NullPointerException(
                    "Cannot invoke \"org.apache.arrow.flatbuf.RecordBatch.length()\" because"
                        + " \"batch\" is null")))
        .isEqualTo("Cannot invoke \"RecordBatch.length()\" because \"batch\" is null");
    assertThat(TraceAnalysis.inWords(new IllegalStateException()))
        .isEqualTo("an unexpected failure; dl-analyze analyze TRACE --verbose shows where");
  }

  @Test
  void unlisted_isAnIoErrorRow() {
    TraceAnalysis.Result result = analysis.unlisted(dir, dir.toString(), "permission denied");

    assertThat(result.run().status()).isEqualTo(RunStatus.ERROR);
    assertThat(result.run().errorCode()).isEqualTo("io_error");
    assertThat(result.run().error()).isEqualTo(dir + ": cannot be listed: permission denied");
  }
}
