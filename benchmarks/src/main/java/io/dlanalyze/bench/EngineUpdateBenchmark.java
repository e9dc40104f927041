package io.dlanalyze.bench;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.MemoryTrace;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The per-key update loop without decoding: the engine cuts pre-decoded batches at step boundaries,
 * scatters each row into the step table by (layer, phase) key and runs the detectors of a mode on
 * every completed step. The trace (160 layers x 500 steps, faults injected) is held in memory; each
 * batch is copied into the reader's reused batch as a decoder would write it. Single-threaded (no
 * read-ahead): this is the consumer's cost. Score: ns per row.
 *
 * <pre>
 * bench/jmh.sh EngineUpdate
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
public class EngineUpdateBenchmark {
  @Param({"default", "deeplocalize"})
  public String mode;

  private MemoryTrace trace;
  private AnalysisOptions options;
  private Set<Column> projection;
  private final Analyzer analyzer = new Analyzer();

  @Setup(Level.Trial)
  public void setUp() {
    options =
        AnalysisOptions.builder().mode(AnalysisMode.fromWireName(mode)).readAhead(false).build();
    projection = analyzer.projection(options);
    trace = MemoryTrace.of(BenchTraces.kernelTrace());
  }

  @Benchmark
  @OperationsPerInvocation(BenchTraces.KERNEL_ROWS)
  public Report analyze() {
    return analyzer.analyze(trace.open(projection, 1 << 16), options);
  }
}
