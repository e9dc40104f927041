package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every on-disk format to every other gives the same rows and metadata: nulls, NaN and infinities,
 * -0.0, extreme values, unknown phases, layer names with quotes, commas, newlines, markup, 5,000
 * characters and non-ASCII text.
 */
class RoundTripTest {
  /** The formats under test; each is a parameter so a new format joins every pair. */
  static final List<TraceFormat> FORMATS =
      List.of(
          TraceFormat.PARQUET, TraceFormat.ARROW_FILE, TraceFormat.ARROW_STREAM, TraceFormat.CSV);

  @TempDir Path dir;

  static Stream<Arguments> pairs() {
    List<Arguments> pairs = new ArrayList<>();
    for (TraceFormat from : FORMATS) {
      for (TraceFormat to : FORMATS) {
        pairs.add(Arguments.of(from, to));
      }
    }
    return pairs.stream();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("pairs")
  void convert_anyFormatToAny_sameRowsAndMetadata(TraceFormat from, TraceFormat to) {
    TraceDictionary dictionary = new TraceDictionary();
    TraceBatch original = HostileTraces.batch(dictionary, 7);
    List<String> expected = TraceRows.text(original);
    TraceMetadata metadata = HostileTraces.metadata();

    Path first = dir.resolve("first" + from.extension());
    TestTraces.write(first, metadata, WriteOptions.defaults().withRowGroupRows(29), original);
    Path second = dir.resolve("second" + to.extension());
    try (TraceReader reader = TraceReaders.open(first, ReadOptions.all().withBatchRows(11))) {
      assertThat(reader.format()).isEqualTo(from);
      assertThat(reader.metadata()).isEqualTo(metadata);
      TestTraces.copy(reader, second, WriteOptions.defaults().withRowGroupRows(13));
      assertThat(reader.warnings())
          .containsExactly(
              "unknown phase 'custom_phase, \"odd\"' in 7 rows: the rows are kept, but no detector"
                  + " reads them");
    }
    try (TraceReader reader = TraceReaders.open(second, ReadOptions.all().withBatchRows(1000))) {
      assertThat(reader.format()).isEqualTo(to);
      assertThat(reader.metadata()).isEqualTo(metadata);
      assertThat(reader.metadata().layers()).isEqualTo(metadata.layers());
      assertThat(TraceRows.text(reader)).isEqualTo(expected);
      assertThat(reader.truncated()).isFalse();
    }
  }
}
