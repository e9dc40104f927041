package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hadoop is a compile-time-only dependency of trace-format (parquet-mr's writer API names its
 * types); surefire removes it from the test class path, so every Parquet test in this module also
 * proves that reading and writing work without it.
 */
class NoHadoopTest {
  @TempDir Path dir;

  @Test
  void classPath_hasNoHadoop() {
    assertThatThrownBy(() -> Class.forName("org.apache.hadoop.conf.Configuration"))
        .isInstanceOf(ClassNotFoundException.class);
  }

  @Test
  void writeThenRead_everyCodec_worksWithoutHadoop() {
    SyntheticTrace trace = SyntheticTrace.builder().layers(2).steps(50).build();
    for (String codec : new String[] {"zstd", "snappy", "uncompressed"}) {
      Path path = dir.resolve(codec + ".parquet");
      TestTraces.write(path, trace, WriteOptions.defaults().withCompression(codec));
      try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
        long rows = 0;
        while (reader.next()) {
          rows += reader.batch().size();
        }
        assertThat(rows).as(codec).isEqualTo(trace.totalRows());
      }
    }
  }
}
