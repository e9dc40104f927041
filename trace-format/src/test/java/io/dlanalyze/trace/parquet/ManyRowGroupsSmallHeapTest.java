package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ParquetSurgery;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.apache.parquet.format.FileMetaData;
import org.apache.parquet.format.RowGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Parquet file of very many one-row row groups (as a recorder that writes a row group per step
 * leaves) is read in the fuzz JVM's 256 MB heap. parquet-mr decoded the whole footer into objects
 * per column chunk: a file of 200,000 row groups ran out of memory at 1 GB with a message about
 * "very many layers" (issue 17, item 9). Runs in the small-heap execution of the fuzz tests.
 */
class ManyRowGroupsSmallHeapTest {
  static final int ROW_GROUPS = 40_000;

  @TempDir Path dir;

  @Test
  void read_fortyThousandOneRowRowGroups_fitsInTheSmallHeap() throws IOException {
    Path one = dir.resolve("one.parquet");
    SyntheticTrace trace = SyntheticTrace.builder().layers(1).steps(1).build();
    TestTraces.write(one, trace, WriteOptions.defaults().withRowGroupRows(1));
    byte[] bytes = Files.readAllBytes(one);
    FileMetaData footer = ParquetSurgery.footer(bytes);
    RowGroup first = footer.getRow_groups().get(0);
    List<RowGroup> groups = new ArrayList<>(ROW_GROUPS);
    for (int i = 0; i < ROW_GROUPS; i++) {
      groups.add(first); // every row group reads the first one's pages
    }
    footer.setRow_groups(groups);
    footer.setNum_rows(ROW_GROUPS);
    Path many = dir.resolve("many.parquet");
    ParquetSurgery.writeWithFooter(bytes, footer, many);
    bytes = null;
    footer = null;
    groups = null;

    try (TraceReader reader =
        TraceReaders.open(many, ReadOptions.columns(EnumSet.of(Column.STEP, Column.MEAN)))) {
      assertThat(reader.totalRows()).isEqualTo(ROW_GROUPS);
      long rows = 0;
      while (reader.next()) {
        rows += reader.batch().size();
      }
      assertThat(rows).isEqualTo(ROW_GROUPS);
    }
  }
}
