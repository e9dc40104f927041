package io.dlanalyze.trace.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Test;

/** Fuzzes the CSV reader and its metadata sidecar; see {@link CsvFormat} for the input layout. */
class CsvFuzzTest {
  private static final FuzzFormat FORMAT = FuzzFormat.CSV;

  @FuzzTest(maxDuration = "10m")
  void fuzz(byte[] input) {
    ReaderCheck.check(FORMAT, input);
  }

  @Test
  void mutants() {
    assertThat(Corpus.runMutants(getClass(), FORMAT)).isPositive();
  }
}
