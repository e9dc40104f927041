package io.dlanalyze.trace.csv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.WriteOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsvTraceWriterTest {
  @TempDir Path dir;

  private static TraceBatch twoRows() {
    TraceDictionary dictionary = new TraceDictionary();
    TraceBatch batch = TraceBatch.allColumns(dictionary, 2);
    batch.reset(2);
    for (int row = 0; row < 2; row++) {
      batch.ints(Column.EPOCH)[row] = 0;
      batch.ints(Column.BATCH)[row] = row;
      batch.longs(Column.STEP)[row] = row;
      batch.ints(Column.LAYER_INDEX)[row] = row - 1;
      batch.ints(Column.LAYER_NAME)[row] = dictionary.layerNameId(row == 0 ? "model" : "a,\"b\"");
      batch.ints(Column.LAYER_TYPE)[row] = row == 0 ? -1 : dictionary.layerTypeId("");
      batch.ints(Column.PHASE)[row] = row == 0 ? Phase.LOSS.code() : Phase.FORWARD.code();
      batch.doubles(Column.MEAN)[row] = row == 0 ? Double.NaN : 0.1;
      for (Column column :
          new Column[] {Column.STD, Column.MIN, Column.MAX, Column.L2_NORM, Column.ZERO_FRACTION}) {
        batch.doubles(column)[row] = row == 0 ? Double.NEGATIVE_INFINITY : 1e-7;
      }
      batch.longs(Column.NAN_COUNT)[row] = 1;
      batch.longs(Column.INF_COUNT)[row] = 0;
      batch.longs(Column.NUMEL)[row] = 10;
    }
    batch.setNull(Column.LAYER_TYPE, 0);
    batch.setNull(Column.NUMEL, 1);
    return batch;
  }

  @Test
  void close_writesHeaderRowsAndSidecar() throws IOException {
    Path path = dir.resolve("run.csv");
    TraceMetadata metadata = TraceMetadata.of(Map.of("dltrace.version", "1"));
    CsvTraceWriter writer = CsvTraceWriter.create(path, metadata, WriteOptions.defaults());
    writer.write(twoRows());
    assertThat(writer.rowsWritten()).isEqualTo(2);
    writer.close();
    assertThat(Files.readString(path))
        .isEqualTo(
            "epoch,batch,step,layer_index,layer_name,layer_type,phase,mean,std,min,max,l2_norm,zero_fraction,nan_count,inf_count,numel\n"
                + "0,0,0,-1,model,,loss,nan,-inf,-inf,-inf,-inf,-inf,1,0,10\n"
                + "0,1,1,0,\"a,\"\"b\"\"\",\"\",forward,0.1,1.0E-7,1.0E-7,1.0E-7,1.0E-7,1.0E-7,1,0,\n");
    assertThat(Files.readString(dir.resolve("run.csv.meta.json")))
        .isEqualTo("{\n  \"dltrace.version\" : \"1\"\n}\n");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted())
          .containsExactly("run.csv", "run.csv.meta.json");
    }
  }

  @Test
  void abort_leavesNeitherFileAndKeepsOldOnes() throws IOException {
    Path path = dir.resolve("run.csv");
    Files.writeString(path, "old");
    CsvTraceWriter writer =
        CsvTraceWriter.create(path, TraceMetadata.empty(), WriteOptions.defaults());
    writer.write(twoRows());
    writer.abort();
    assertThat(Files.readString(path)).isEqualTo("old");
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files).containsExactly(path);
    }
  }

  @Test
  void create_missingDirectory_throwsIoErrorWithThePath() {
    Path path = dir.resolve("nope/run.csv");
    assertThatThrownBy(
            () -> CsvTraceWriter.create(path, TraceMetadata.empty(), WriteOptions.defaults()))
        .isInstanceOf(io.dlanalyze.trace.TraceFormatException.class)
        .hasMessage(path + ": cannot create: directory does not exist: " + dir.resolve("nope"));
  }

  @Test
  void quote_onlyWhenNeeded() {
    assertThat(CsvTraceWriter.quote("fc1")).isEqualTo("fc1");
    assertThat(CsvTraceWriter.quote("")).isEqualTo("\"\"");
    assertThat(CsvTraceWriter.quote("a\nb")).isEqualTo("\"a\nb\"");
    assertThat(CsvTraceWriter.quote("say \"hi\"")).isEqualTo("\"say \"\"hi\"\"\"");
    assertThat(CsvTraceWriter.quote("<script>")).isEqualTo("<script>");
  }
}
