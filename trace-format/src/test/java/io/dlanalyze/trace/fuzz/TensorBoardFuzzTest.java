package io.dlanalyze.trace.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the TensorBoard event-file reader (one {@code events.out.tfevents.*} file: TFRecord
 * framing with masked CRC-32C, then protobuf Event records); see {@link ReaderCheck} for the
 * invariants. Seeds: event files of PyTorch's SummaryWriter, Lightning's logger, tf.summary and
 * Keras' TensorBoard callback (the reader's own test fixtures).
 */
class TensorBoardFuzzTest {
  private static final FuzzFormat FORMAT = FuzzFormat.TENSORBOARD;

  @FuzzTest(maxDuration = "10m")
  void fuzz(byte[] input) {
    ReaderCheck.check(FORMAT, input);
  }

  @Test
  void mutants() {
    assertThat(Corpus.runMutants(getClass(), FORMAT)).isPositive();
  }
}
