package io.dlanalyze.batch;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TraceNamesTest {
  @Test
  void isTraceFile_everyReadableExtension_true() {
    for (String name :
        new String[] {
          "a.parquet", "a.pq", "a.arrow", "a.feather", "a.ipc", "a.arrows", "a.csv", "A.PARQUET"
        }) {
      assertThat(TraceNames.isTraceFile(name)).as(name).isTrue();
    }
  }

  @Test
  void isTraceFile_sidecarHiddenAndOtherFiles_false() {
    for (String name :
        new String[] {
          "a.csv.meta.json",
          "a.meta.json",
          ".a.arrows.123.tmp",
          "_SUCCESS",
          "_metadata",
          ".hidden.parquet",
          "README.md",
          "a.json",
          "a",
          ""
        }) {
      assertThat(TraceNames.isTraceFile(name)).as(name).isFalse();
    }
  }

  @Test
  void isPartDirectory_parquetSuffixNotHidden_true() {
    assertThat(TraceNames.isPartDirectory("run-17.parquet")).isTrue();
    assertThat(TraceNames.isPartDirectory("run-17")).isFalse();
    assertThat(TraceNames.isPartDirectory("_temporary.parquet")).isFalse();
  }

  @Test
  void isGlob_wildcards_true() {
    assertThat(TraceNames.isGlob("/data/*.arrows")).isTrue();
    assertThat(TraceNames.isGlob("/data/run-?.csv")).isTrue();
    assertThat(TraceNames.isGlob("/data/{a,b}")).isTrue();
    assertThat(TraceNames.isGlob("/data/runs/a.arrows")).isFalse();
  }
}
