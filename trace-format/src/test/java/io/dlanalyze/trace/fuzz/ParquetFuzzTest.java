package io.dlanalyze.trace.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Test;

/** Fuzzes the Parquet reader (a single file); see {@link ReaderCheck} for the invariants. */
class ParquetFuzzTest {
  private static final FuzzFormat FORMAT = FuzzFormat.PARQUET;

  @FuzzTest(maxDuration = "10m")
  void fuzz(byte[] input) {
    ReaderCheck.check(FORMAT, input);
  }

  @Test
  void mutants() {
    assertThat(Corpus.runMutants(getClass(), FORMAT)).isPositive();
  }
}
