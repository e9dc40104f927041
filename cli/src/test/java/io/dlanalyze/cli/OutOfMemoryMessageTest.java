package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The out-of-memory line advises a heap larger than the one that ran out. */
class OutOfMemoryMessageTest {
  private static final long MB = 1 << 20;

  @Test
  void smallHeap_advisesTwoGigabytes() {
    assertThat(DlAnalyze.outOfMemory(64 * MB))
        .isEqualTo(
            "dl-analyze: error: out of memory with a heap of 64 MB (a trace with very many layers,"
                + " or very large row groups); run with more, e.g. DL_ANALYZE_JAVA_OPTS=-Xmx2g");
  }

  @Test
  void heapOfTwoGigabytesOrMore_advisesTwiceAsMuch() {
    assertThat(DlAnalyze.outOfMemory(3686 * MB))
        .contains("a heap of 3686 MB")
        .endsWith("DL_ANALYZE_JAVA_OPTS=-Xmx8g");
    assertThat(DlAnalyze.outOfMemory(2048 * MB)).endsWith("-Xmx4g");
  }
}
