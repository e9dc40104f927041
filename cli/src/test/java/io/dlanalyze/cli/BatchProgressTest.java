package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.batch.Fingerprint;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.batch.RunStatus;
import io.dlanalyze.batch.TraceOutcome;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class BatchProgressTest {
  static RunRow ok(String path, String verdict) {
    return new RunRow(
        path,
        "parquet",
        new Fingerprint(1, 2, "sha256:00"),
        "config",
        RunStatus.OK,
        null,
        null,
        verdict,
        "why",
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        null,
        0,
        0,
        0,
        0,
        0,
        10L,
        2L,
        false,
        0,
        null,
        412,
        3);
  }

  static RunRow error(String path) {
    return RunRow.error(
        path,
        null,
        new Fingerprint(0, 2, "sha256:00"),
        "config",
        "empty",
        path + ": file is empty (0 bytes)",
        1,
        3);
  }

  @Test
  void describe_eachOutcome_oneLine() {
    assertThat(
            BatchProgress.describe(
                TraceOutcome.analyzed(
                    new io.dlanalyze.batch.TraceAnalysis.Result(
                        ok("/a.parquet", "buggy"), List.of()))))
        .isEqualTo("buggy /a.parquet (412 ms)");
    assertThat(BatchProgress.describe(TraceOutcome.skipped(ok("/b.parquet", "healthy"), List.of())))
        .isEqualTo("unchanged /b.parquet");
    assertThat(BatchProgress.describe(new TraceOutcome(false, error("/c.arrows"), List.of())))
        .isEqualTo("error /c.arrows (1 ms): /c.arrows: file is empty (0 bytes)");
  }

  @Test
  void describe_hostilePath_escapedOnOneLine() {
    String evil = "/x\u001b[2J\nforged.parquet";
    assertThat(BatchProgress.describe(TraceOutcome.skipped(ok(evil, "healthy"), List.of())))
        .isEqualTo("unchanged /x\\e[2J\\nforged.parquet");
    assertThat(BatchProgress.describe(new TraceOutcome(false, error(evil), List.of())))
        .isEqualTo(
            "error /x\\e[2J\\n"
                + "forged.parquet (1 ms): /x\\e[2J\\n"
                + "forged.parquet: file is empty (0 bytes)");
  }

  @Test
  void lines_printCountsAndOneLinePerTrace() {
    StringWriter text = new StringWriter();
    BatchProgress.Lines lines = new BatchProgress.Lines(new PrintWriter(text));

    lines.started(2);
    lines.traceDone(TraceOutcome.skipped(ok("/b.parquet", "healthy"), List.of()), 1, 2);
    lines.traceDone(new TraceOutcome(false, error("/c.arrows"), List.of()), 2, 2);

    assertThat(text.toString().lines())
        .containsExactly(
            "dl-analyze: batch of 2 traces",
            "[1/2] unchanged /b.parquet",
            "[2/2] error /c.arrows (1 ms): /c.arrows: file is empty (0 bytes)");
  }

  @Test
  void bar_drawsTheTaskAndTheFinalCount() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    BatchProgress.Bar bar =
        new BatchProgress.Bar(new PrintStream(bytes, true, StandardCharsets.UTF_8));

    bar.started(3);
    for (int i = 1; i <= 3; i++) {
      bar.traceDone(
          TraceOutcome.skipped(ok("/runs/t" + i + ".parquet", "healthy"), List.of()), i, 3);
    }
    bar.finished();

    assertThat(bytes.toString(StandardCharsets.UTF_8)).contains("batch").contains("3/3");
  }
}
