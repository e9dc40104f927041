package io.dlanalyze.trace.csv;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import io.dlanalyze.trace.TraceRows;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsvTraceReaderTest {
  @TempDir Path dir;

  private static final String HEADER = "epoch,batch,step,layer_index,layer_name,phase,mean\n";

  private Path csv(String name, String text) throws IOException {
    Path path = dir.resolve(name);
    Files.writeString(path, text, StandardCharsets.UTF_8);
    return path;
  }

  private static List<String> rows(Path path) {
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      return TraceRows.text(reader);
    }
  }

  private static void assertError(ThrowingCallable call, ErrorCode code, String message) {
    assertThatThrownBy(call)
        .isInstanceOf(TraceFormatException.class)
        .hasMessage(message)
        .extracting(e -> ((TraceFormatException) e).code())
        .isEqualTo(code);
  }

  private static String firstRowError(Path path) {
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      reader.next();
      throw new AssertionError("no error");
    } catch (TraceFormatException e) {
      return e.getMessage();
    }
  }

  @Test
  void next_anyColumnOrderUnknownColumnsQuotingCrlfBom_readsEveryCell() throws IOException {
    Path path =
        csv(
            "order.csv",
            "\uFEFFnote,mean,phase,layer_name,layer_type,layer_index,step,batch,epoch,std,nan_count\r\n"
                + "\"a, b\",0.5,forward,\"fc \"\"1\"\"\",Linear,0,0,0,0,nan,3.0\r\n"
                + "\r\n"
                + "x,-inf,loss,model,,-1,0,0,0,,nan\r\n"
                + "y,Infinity,backward,\"multi\n"
                + "line\",\"\",0,1,1,0,1e-3,\n");
    assertThat(rows(path))
        .containsExactly(
            "epoch=0 | batch=0 | step=0 | layer_index=0 | layer_name=[fc \"1\"] |"
                + " layer_type=[Linear] | phase=[forward] | mean=0.5 | std=NaN | min=null |"
                + " max=null | l2_norm=null | zero_fraction=null | nan_count=3 | inf_count=null |"
                + " numel=null",
            "epoch=0 | batch=0 | step=0 | layer_index=-1 | layer_name=[model] | layer_type=null"
                + " | phase=[loss] | mean=-Infinity | std=null | min=null | max=null | l2_norm=null"
                + " | zero_fraction=null | nan_count=null | inf_count=null | numel=null",
            "epoch=0 | batch=1 | step=1 | layer_index=0 | layer_name=[multi\n"
                + "line] | layer_type=[] | phase=[backward] | mean=Infinity | std=0.001 | min=null"
                + " | max=null | l2_norm=null | zero_fraction=null | nan_count=null |"
                + " inf_count=null | numel=null");
  }

  @Test
  void open_sidecarBesideTheCsv_metadataAndLayers() throws IOException {
    Path path = csv("run.csv", HEADER + "0,0,0,0,fc1,forward,1.0\n");
    Files.writeString(
        dir.resolve("run.csv.meta.json"),
        "{\"dltrace.version\": \"1\", \"dltrace.batch_size\": 32, \"dltrace.learning_rate\": 0.01,"
            + " \"dltrace.layers\": [{\"index\": 0, \"name\": \"fc1\", \"type\": \"Linear\"}],"
            + " \"dltrace.loss\": null}");
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.format()).isEqualTo(TraceFormat.CSV);
      TraceMetadata metadata = reader.metadata();
      assertThat(metadata.asMap().keySet())
          .containsExactly(
              "dltrace.version", "dltrace.batch_size", "dltrace.learning_rate", "dltrace.layers");
      assertThat(metadata.batchSize()).hasValue(32);
      assertThat(metadata.learningRate()).hasValue(0.01);
      assertThat(metadata.layers()).hasSize(1);
      assertThat(metadata.layers().get(0).type()).isEqualTo("Linear");
      assertThat(reader.warnings()).isEmpty();
    }
  }

  @Test
  void open_alternateSidecarName_isRead() throws IOException {
    Path path = csv("run.csv", HEADER);
    Files.writeString(dir.resolve("run.meta.json"), "{\"dltrace.run_id\": \"alt\"}");
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.metadata().runId()).hasValue("alt");
      assertThat(reader.warnings()).isEmpty();
    }
  }

  @Test
  void open_bothSidecars_primaryWinsWithAWarning() throws IOException {
    Path path = csv("run.csv", HEADER);
    Files.writeString(dir.resolve("run.meta.json"), "{\"dltrace.run_id\": \"alt\"}");
    Files.writeString(dir.resolve("run.csv.meta.json"), "{\"dltrace.run_id\": \"primary\"}");
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.metadata().runId()).hasValue("primary");
      assertThat(reader.warnings())
          .containsExactly(
              "metadata: run.meta.json is ignored, run.csv.meta.json takes precedence");
    }
  }

  @Test
  void open_sidecarIsADirectory_badMetadataNamingIt() throws IOException {
    Path path = csv("run.csv", HEADER + "0,0,0,0,fc1,forward,1.0\n");
    Path sidecar = Files.createDirectory(dir.resolve("run.csv.meta.json"));

    TraceFormatException e =
        catchThrowableOfType(
            () -> TraceReaders.open(path, ReadOptions.all()), TraceFormatException.class);

    assertThat(e.code()).isEqualTo(ErrorCode.BAD_METADATA);
    assertThat(e.getMessage())
        .isEqualTo(sidecar + ": not a file: the CSV trace's metadata must be a JSON file");
  }

  @Test
  void open_noSidecar_emptyMetadataAndAWarning() throws IOException {
    Path path = csv("run.csv", HEADER + "0,0,0,0,fc1,forward,1.0\n");
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.metadata()).isEqualTo(TraceMetadata.empty());
      assertThat(reader.warnings())
          .containsExactly(
              "no metadata: run.csv.meta.json does not exist (nor run.meta.json); the metadata is"
                  + " empty");
      assertThat(TraceRows.text(reader)).hasSize(1);
    }
  }

  @Test
  void open_sidecarNotJson_throwsBadMetadataNamingTheSidecar() throws IOException {
    Path path = csv("run.csv", HEADER);
    Path sidecar = dir.resolve("run.csv.meta.json");
    Files.writeString(sidecar, "{\"a\": ");
    assertThatThrownBy(() -> TraceReaders.open(path, ReadOptions.all()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageStartingWith(sidecar + ": not valid JSON: ")
        .extracting(e -> ((TraceFormatException) e).code())
        .isEqualTo(ErrorCode.BAD_METADATA);
    Files.writeString(sidecar, "[1, 2]");
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.BAD_METADATA,
        sidecar + ": must hold one JSON object of metadata keys and values");
    Files.writeString(sidecar, "{\"dltrace.layers\": \"[1]\"}");
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.BAD_METADATA,
        sidecar + ": dltrace.layers[0] must be a JSON object");
  }

  @Test
  void open_sidecarWithTextAfterTheObject_badMetadataAtItsPosition() throws IOException {
    Path path = csv("run.csv", HEADER);
    Path sidecar = dir.resolve("run.csv.meta.json");
    Files.writeString(sidecar, "{\"dltrace.run_id\": \"a\"}\n{\"x\": 1} garbage");
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.BAD_METADATA,
        sidecar + ": not valid JSON: text after the end of the JSON object, at line 2, column 1");
  }

  @Test
  void open_sidecarNotUtf8_badMetadataNamingTheByte() throws IOException {
    Path path = csv("run.csv", HEADER);
    Path sidecar = dir.resolve("run.csv.meta.json");
    // Latin-1 "é" (0xE9) where UTF-8 is expected
    Files.write(sidecar, new byte[] {'{', '"', 'm', '"', ':', '"', (byte) 0xE9, '"', '}'});
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.BAD_METADATA,
        sidecar
            + ": not UTF-8 text: the byte at offset 6 (0xe9) is not valid UTF-8; save the sidecar"
            + " as UTF-8");
  }

  @Test
  void read_layerNameOverTheLimit_invalidValueNamingTheRow() throws IOException {
    String name = "n".repeat(io.dlanalyze.trace.Limits.MAX_NAME_CHARS + 1);
    Path path = csv("long.csv", HEADER + "0,0,0,0," + name + ",forward,0.5\n");
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertError(
          reader::next,
          ErrorCode.INVALID_VALUE,
          path
              + ": row 0 (line 2): a layer name of 1025 characters is longer than the limit of"
              + " 1024 characters (it starts with 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...')");
    }
  }

  @Test
  void open_missingRequiredColumn_throwsMissingColumn() throws IOException {
    Path path = csv("m.csv", "epoch,batch,step,layer_index,layer_name,mean\n");
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.MISSING_COLUMN,
        path + ": column 'phase' is missing (required by trace format v1, expected string)");
  }

  @Test
  void open_duplicateColumn_throwsCorrupt() throws IOException {
    Path path = csv("d.csv", "epoch,batch,step,layer_index,layer_name,phase,mean,step\n");
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.CORRUPT,
        path + ": column 'step' appears more than once");
  }

  @Test
  void next_badValues_nameTheRowAndLine() throws IOException {
    String ok = "0,0,0,0,fc1,forward,1.0\n";
    Path step = csv("s.csv", HEADER + ok + ok + "0,0,abc,0,fc1,forward,1.0\n");
    assertThat(firstRowError(step))
        .isEqualTo(step + ": row 2 (line 4): column 'step': 'abc' is not an integer");
    Path quotedLine =
        csv("q.csv", HEADER + "0,0,0,0,\"a\nb\",forward,1.0\n" + "0,0,0,0,fc1,forward,x1\n");
    assertThat(firstRowError(quotedLine))
        .isEqualTo(quotedLine + ": row 1 (line 4): column 'mean': 'x1' is not a number");
    Path epoch = csv("e.csv", HEADER + "5000000000,0,0,0,fc1,forward,1.0\n");
    assertThat(firstRowError(epoch))
        .isEqualTo(epoch + ": row 0 (line 2): column 'epoch': 5000000000 does not fit in int32");
    Path big = csv("b.csv", HEADER + "0,0,99999999999999999999,0,fc1,forward,1.0\n");
    assertThat(firstRowError(big))
        .isEqualTo(
            big + ": row 0 (line 2): column 'step': '99999999999999999999' does not fit in int64");
    Path empty = csv("n.csv", HEADER + "0,0,,0,fc1,forward,1.0\n");
    assertThat(firstRowError(empty))
        .isEqualTo(empty + ": row 0 (line 2): column 'step' is null (the column is required)");
    Path nanStep = csv("ns.csv", HEADER + "0,0,nan,0,fc1,forward,1.0\n");
    assertThat(firstRowError(nanStep))
        .isEqualTo(nanStep + ": row 0 (line 2): column 'step': 'nan' is not an integer");
    Path fields = csv("f.csv", HEADER + "0,0,0,0,fc1,forward\n");
    assertThat(firstRowError(fields))
        .isEqualTo(fields + ": row 0 (line 2): 6 fields, but the header has 7");
    Path quote = csv("mq.csv", HEADER + "0,0,0,0,\"fc1\"x,forward,1.0\n");
    assertThat(firstRowError(quote))
        .isEqualTo(
            quote + ": row 0 (line 2): malformed quoted field: text after the closing quote");
  }

  @Test
  void next_lastLineWithoutLineBreak_droppedAsTruncated() throws IOException {
    Path path =
        csv(
            "cut.csv",
            HEADER + "0,0,0,0,fc1,forward,1.0\n0,0,1,0,fc1,forward,2.0\n0,0,2,0,fc1,for");
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all().withBatchRows(1))) {
      assertThat(TraceRows.text(reader)).hasSize(2);
      assertThat(reader.truncated()).isTrue();
      assertThat(reader.warnings())
          .contains(
              "truncated: the last line has no line break (the writer did not finish); recovered 2"
                  + " rows, the partial last row is dropped");
    }
  }

  @Test
  void next_cutInsideAQuotedField_droppedAsTruncated() throws IOException {
    Path path = csv("cutq.csv", HEADER + "0,0,0,0,fc1,forward,1.0\n0,0,1,0,\"fc,\n");
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(TraceRows.text(reader)).hasSize(1);
      assertThat(reader.truncated()).isTrue();
    }
  }

  @Test
  void next_quoteNeverClosedOverManyLines_errorNamingTheLineNotATruncation() throws IOException {
    String ok = "0,0,0,0,fc1,forward,1.0\n";
    Path path = csv("stray.csv", HEADER + ok + "0,0,1,0,\"fc1,forward,2.0\n" + ok.repeat(5));

    assertThat(firstRowError(path))
        .isEqualTo(
            path
                + ": row 1 (line 3): a quoted field opened here is never closed: the 6 lines after"
                + " it up to the end of the file would be part of it");
  }

  @Test
  void next_rowLongerThanTheLimit_errorInsteadOfABufferAsLargeAsTheFile() throws IOException {
    String ok = "0,0,0,0,fc1,forward,1.0\n";
    String rest = ok.repeat((CsvScanner.MAX_ROW_BYTES / ok.length()) + 10);
    Path path = csv("unclosed.csv", HEADER + ok + "0,0,1,0,\"fc1,forward,2.0\n" + rest);

    assertError(
        () -> rows(path),
        ErrorCode.INVALID_VALUE,
        path + ": row 1 (line 3): row longer than 16 MiB (a quoted field that is never closed?)");
  }

  @Test
  void open_cutInsideTheHeader_throwsTruncated() throws IOException {
    Path path = csv("cuth.csv", "epoch,batch,ste");
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.TRUNCATED,
        path + ": truncated inside the header line: the file holds no complete row");
  }

  @Test
  void open_headerOnly_noRowsNotTruncated() throws IOException {
    Path path = csv("h.csv", HEADER);
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      assertThat(reader.next()).isFalse();
      assertThat(reader.truncated()).isFalse();
    }
  }

  @Test
  void open_emptyFile_throwsEmpty() throws IOException {
    Path path = csv("z.csv", "");
    assertError(
        () -> TraceReaders.open(path, ReadOptions.all()),
        ErrorCode.EMPTY,
        path + ": file is empty (0 bytes)");
    Path bom = csv("bom.csv", "\uFEFF");
    assertError(
        () -> CsvTraceReader.open(bom, ReadOptions.all()),
        ErrorCode.EMPTY,
        bom + ": no header line");
  }

  /** Rows longer than the scanner's buffer chunk and files of many chunks read the same. */
  @Test
  void next_largeFileAndHugeRows_sameAsTheArrowCopy() throws IOException {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(5)
            .steps(1_500)
            .optionalPhases(true)
            .fault(Fault.inf(1, 700))
            .build();
    Path arrow = dir.resolve("big.arrows");
    Path csv = dir.resolve("big.csv");
    TestTraces.write(arrow, trace, WriteOptions.defaults());
    TestTraces.write(csv, trace, WriteOptions.defaults());
    assertThat(Files.size(csv)).isGreaterThan(3L << 20);
    assertThat(TraceRows.text(csv, 999)).isEqualTo(TraceRows.text(arrow, 4096));

    // rows longer than the scanner's chunk, in a column the reader ignores (names are capped)
    String huge = "n".repeat(3 << 20);
    Path hugeRow =
        csv(
            "huge.csv",
            "epoch,batch,step,layer_index,layer_name,phase,mean,note\n"
                + "0,0,0,0,fc1,forward,1.0,\""
                + huge
                + "\"\n0,0,1,0,fc2,forward,2.0,"
                + huge
                + "\n");
    List<String> rows = rows(hugeRow);
    assertThat(rows).hasSize(2);
    assertThat(rows.get(1)).contains("layer_name=[fc2]", "mean=2.0");
  }

  @Test
  void next_projection_parsesOnlyTheRequestedColumns() throws IOException {
    Path path = csv("p.csv", HEADER + "0,0,7,0,fc1,forward,not-a-number\n");
    try (TraceReader reader =
        TraceReaders.open(path, ReadOptions.columns(EnumSet.of(Column.STEP, Column.STD)))) {
      assertThat(TraceRows.text(reader)).containsExactly("step=7 | std=null");
    }
  }
}
