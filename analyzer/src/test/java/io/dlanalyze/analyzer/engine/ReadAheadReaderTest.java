package io.dlanalyze.analyzer.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.report.JsonReportRenderer;
import io.dlanalyze.analyzer.report.RenderOptions;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The read-ahead pipeline gives the reports, batches and errors of a single-threaded read. */
class ReadAheadReaderTest {
  private static final JsonReportRenderer JSON = new JsonReportRenderer(RenderOptions.plain());

  @TempDir Path dir;

  static Stream<Arguments> faultyTraces() {
    List<Arguments> cases = new ArrayList<>();
    Fault[][] faults = {
      {Fault.nan(3, 420)},
      {Fault.deadLayer(2, 300), Fault.inf(4, 700)},
      {Fault.frozenWeights(1, 400), Fault.lossPlateau(600)},
      {Fault.explodingGradient(500, 1.5)},
      {Fault.vanishingGradient(200, 0.5), Fault.nan(5, 900)},
    };
    for (Fault[] set : faults) {
      for (AnalysisMode mode : AnalysisMode.values()) {
        for (boolean firstFault : new boolean[] {false, true}) {
          cases.add(Arguments.of(List.of(set), mode, firstFault));
        }
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1} first-fault={2}")
  @MethodSource("faultyTraces")
  void analyze_faultyParquetTrace_readAheadGivesTheSingleThreadedReport(
      List<Fault> faults, AnalysisMode mode, boolean firstFault) {
    SyntheticTrace.Builder builder =
        SyntheticTrace.builder().layers(6).steps(1_000).stepsPerEpoch(100).seed(3);
    faults.forEach(builder::fault);
    Path file = write(builder.build(), "trace.parquet", 5_000);
    AnalysisOptions options =
        AnalysisOptions.builder().mode(mode).firstFault(firstFault).readBatchRows(1_500).build();

    String single =
        render(new Analyzer().analyze(file, options.toBuilder().readAhead(false).build()));
    String threaded =
        render(new Analyzer().analyze(file, options.toBuilder().readAhead(true).build()));

    assertThat(threaded).isEqualTo(single);
    assertThat(single).contains("\"verdict\": \"buggy\"");
  }

  @Test
  void analyze_arrowStreamWithSmallBatches_readAheadGivesTheSingleThreadedReport() {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(4)
            .steps(400)
            .stepsPerEpoch(40)
            .seed(9)
            .fault(Fault.deadLayer(1, 100))
            .fault(Fault.nan(2, 300))
            .build();
    Path file = write(trace, "trace.arrows", 333);
    AnalysisOptions options = AnalysisOptions.builder().readBatchRows(97).build();

    String single =
        render(new Analyzer().analyze(file, options.toBuilder().readAhead(false).build()));
    String threaded =
        render(new Analyzer().analyze(file, options.toBuilder().readAhead(true).build()));

    assertThat(threaded).isEqualTo(single);
  }

  @Test
  void next_everyBatch_sameRowsAsTheSourceInTheSameOrder() {
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(3).steps(200).seed(4).fault(Fault.nan(1, 120)).build();
    List<double[]> expected = new ArrayList<>();
    try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(100))) {
      while (source.next()) {
        expected.add(
            java.util.Arrays.copyOf(source.batch().doubles(Column.MEAN), source.batch().size()));
      }
    }
    List<double[]> actual = new ArrayList<>();
    List<Long> rowsRead = new ArrayList<>();
    try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(100));
        ReadAheadReader reader = ReadAheadReader.start(source)) {
      while (reader.next()) {
        actual.add(
            java.util.Arrays.copyOf(reader.batch().doubles(Column.MEAN), reader.batch().size()));
        rowsRead.add(reader.rowsRead());
      }
      assertThat(reader.next()).isFalse();
    }
    assertThat(actual).containsExactlyElementsOf(expected);
    assertThat(rowsRead.get(0))
        .as("rows read as of the batch held, not the one read ahead")
        .isEqualTo(100);
    assertThat(rowsRead.get(rowsRead.size() - 1)).isEqualTo(trace.totalRows());
  }

  @Test
  void next_sourceFailsAtTheThirdBatch_throwsItsExceptionAfterTwoBatches() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(3).steps(200).seed(4).build();
    try (TraceReader source =
            new FailingReader(trace.open(ReadOptions.all().withBatchRows(50)), 3);
        ReadAheadReader reader = ReadAheadReader.start(source)) {
      assertThat(reader.next()).isTrue();
      assertThat(reader.next()).isTrue();
      TraceFormatException error = catchThrowableOfType(TraceFormatException.class, reader::next);
      assertThat(error.code()).isEqualTo(ErrorCode.CORRUPT);
      assertThat(error.getMessage()).isEqualTo("memory:failing: batch 3: corrupt page");
      assertThat(reader.next()).isFalse();
    }
  }

  @Test
  void analyze_sourceFailsMidway_sameErrorWithAndWithoutReadAhead() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(3).steps(200).seed(4).build();
    List<String> messages = new ArrayList<>();
    for (boolean readAhead : new boolean[] {false, true}) {
      AnalysisOptions options = AnalysisOptions.builder().readAhead(readAhead).build();
      try (TraceReader source =
          new FailingReader(trace.open(ReadOptions.all().withBatchRows(50)), 5)) {
        messages.add(
            catchThrowableOfType(
                    TraceFormatException.class, () -> new Analyzer().analyze(source, options))
                .getMessage());
      }
    }
    assertThat(messages)
        .containsExactly(
            "memory:failing: batch 5: corrupt page", "memory:failing: batch 5: corrupt page");
  }

  @Test
  void close_beforeTheEnd_stopsTheThreadAndLeavesTheSourceUsable() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(3).steps(500).seed(4).build();
    try (TraceReader source = trace.open(ReadOptions.all().withBatchRows(64))) {
      ReadAheadReader reader = ReadAheadReader.start(source);
      assertThat(reader.next()).isTrue();
      reader.close();
      assertThat(Thread.getAllStackTraces().keySet())
          .noneMatch(t -> t.getName().equals("dl-analyze-read-ahead") && t.isAlive());
      long before = source.rowsRead();
      assertThat(source.next()).isTrue();
      assertThat(source.rowsRead()).isGreaterThan(before);
    }
  }

  private Path write(SyntheticTrace trace, String name, int rowGroupRows) {
    return TestTraces.write(
        dir.resolve(name), trace, WriteOptions.defaults().withRowGroupRows(rowGroupRows));
  }

  private static String render(Report report) {
    return JSON.render(report.withoutTiming());
  }

  /** A reader that passes its source's batches through and fails at batch {@code failAt}. */
  private static final class FailingReader implements TraceReader {
    private final TraceReader source;
    private final int failAt;
    private int batches;

    FailingReader(TraceReader source, int failAt) {
      this.source = source;
      this.failAt = failAt;
    }

    @Override
    public boolean next() {
      if (++batches == failAt) {
        throw new TraceFormatException(
            ErrorCode.CORRUPT, path(), "batch " + batches, "corrupt page");
      }
      return source.next();
    }

    @Override
    public Path path() {
      return Path.of("memory:failing");
    }

    @Override
    public TraceFormat format() {
      return source.format();
    }

    @Override
    public TraceMetadata metadata() {
      return source.metadata();
    }

    @Override
    public Set<Column> columnsInFile() {
      return source.columnsInFile();
    }

    @Override
    public TraceDictionary dictionary() {
      return source.dictionary();
    }

    @Override
    public TraceBatch batch() {
      return source.batch();
    }

    @Override
    public long rowsRead() {
      return source.rowsRead();
    }

    @Override
    public long totalRows() {
      return source.totalRows();
    }

    @Override
    public boolean truncated() {
      return source.truncated();
    }

    @Override
    public List<String> warnings() {
      return source.warnings();
    }

    @Override
    public void close() {
      source.close();
    }
  }
}
