package io.dlanalyze.bench;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Parquet page-decode kernel: a whole trace file (160 layers x 500 steps = 401,000 rows, the
 * writer's defaults: zstd, dictionary-encoded keys, PLAIN doubles) decoded through {@link
 * io.dlanalyze.trace.parquet.ParquetTraceReader} into the reader's reused primitive arrays, with
 * three projections: {@code mean} alone, the 6 columns of a DeepLocalize pass, and what default
 * mode loads. Score: ns per row.
 *
 * <pre>
 * bench/jmh.sh PageDecode
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"--add-opens=java.base/java.nio=ALL-UNNAMED", "-Xmx512m"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class PageDecodeBenchmark {
  @Param({"mean", "alg2", "default"})
  public String columns;

  private Path dir;
  private Path file;
  private Set<Column> projection;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    dir = Files.createTempDirectory("page-decode");
    file = BenchTraces.writeParquet(dir.resolve("trace.parquet"), BenchTraces.kernelTrace());
    projection =
        switch (columns) {
          case "mean" -> EnumSet.of(Column.MEAN);
          case "alg2" -> BenchTraces.ALG2_COLUMNS;
          case "default" ->
              new Analyzer()
                  .projection(AnalysisOptions.builder().mode(AnalysisMode.DEFAULT).build());
          default -> throw new IllegalArgumentException("unknown projection: " + columns);
        };
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    Files.deleteIfExists(file);
    Files.deleteIfExists(dir);
  }

  @Benchmark
  @OperationsPerInvocation(BenchTraces.KERNEL_ROWS)
  public double decode() {
    double sum = 0;
    try (TraceReader reader =
        TraceReaders.open(file, new ReadOptions(projection, ReadOptions.DEFAULT_BATCH_ROWS))) {
      TraceBatch batch = reader.batch();
      while (reader.next()) {
        double[] mean = batch.has(Column.MEAN) ? batch.doubles(Column.MEAN) : null;
        sum += mean == null ? batch.size() : mean[batch.size() - 1];
      }
    }
    return sum;
  }
}
