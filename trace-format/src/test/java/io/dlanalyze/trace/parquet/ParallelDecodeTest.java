package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.WriteOptions;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Columns decoded on several threads give exactly what one thread gives: the same batches (sizes,
 * raw values, string ids, null masks), the same dictionary, warnings and row counts, and the same
 * error at the same batch for a damaged file. Real Parquet files: the sample traces, the DuckDB and
 * pyarrow fixtures, and files of many row groups written here.
 */
class ParallelDecodeTest {
  @TempDir Path dir;

  /** Everything a read shows, batch by batch, in a form that compares. */
  private static List<String> readAll(Path file, ReadOptions options) {
    List<String> seen = new ArrayList<>();
    try (TraceReader reader = ParquetTraceReader.open(file, options)) {
      TraceBatch batch = reader.batch();
      while (reader.next()) {
        seen.add(
            String.format(
                java.util.Locale.ROOT,
                "rows=%d read=%d digest=%s",
                batch.size(),
                reader.rowsRead(),
                digest(batch)));
      }
      TraceDictionary dictionary = reader.dictionary();
      List<String> names = new ArrayList<>();
      for (int id = 0; id < dictionary.layerNameCount(); id++) {
        names.add(dictionary.layerName(id));
      }
      List<String> types = new ArrayList<>();
      for (int id = 0; id < dictionary.layerTypeCount(); id++) {
        types.add(dictionary.layerType(id));
      }
      seen.add("layer names " + names);
      seen.add("layer types " + types);
      seen.add("unknown phases " + dictionary.unknownPhaseNames());
      seen.add("warnings " + reader.warnings());
      seen.add("rows read " + reader.rowsRead());
    }
    return seen;
  }

  /** SHA-256 of a batch's raw arrays (string ids as ids) and null masks, column by column. */
  private static String digest(TraceBatch batch) {
    MessageDigest sha;
    try {
      sha = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    int n = batch.size();
    for (Column column : batch.columns()) {
      ByteBuffer bytes = ByteBuffer.allocate(8 * n + n + 4);
      bytes.putInt(column.ordinal());
      for (int i = 0; i < n; i++) {
        switch (column.type()) {
          case INT32, STRING -> bytes.putLong(batch.ints(column)[i]);
          case INT64 -> bytes.putLong(batch.longs(column)[i]);
          case FLOAT64 -> bytes.putLong(Double.doubleToRawLongBits(batch.doubles(column)[i]));
        }
      }
      for (int i = 0; i < n; i++) {
        bytes.put((byte) (batch.isNull(column, i) ? 1 : 0));
      }
      sha.update(bytes.array());
    }
    return HexFormat.of().formatHex(sha.digest());
  }

  private static void assertSameWithOneTwoAndThreeThreads(Path file, ReadOptions options) {
    List<String> one = readAll(file, options.withDecodeThreads(1));
    assertThat(one).as("%s", file).hasSizeGreaterThan(5);
    assertThat(readAll(file, options.withDecodeThreads(2)))
        .as("%s, 2 threads", file)
        .isEqualTo(one);
    assertThat(readAll(file, options.withDecodeThreads(3)))
        .as("%s, 3 threads", file)
        .isEqualTo(one);
  }

  private static List<Path> parquetFiles(Path directory) throws IOException {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(directory, "*.parquet")) {
      stream.forEach(files::add);
    }
    files.sort(null);
    return files;
  }

  @Test
  void sampleTracesAndOtherWritersFixtures_sameBatchesWithOneTwoAndThreeThreads()
      throws IOException, URISyntaxException {
    Path root = Path.of(System.getProperty("repo.root", "..")).toAbsolutePath().normalize();
    List<Path> files = new ArrayList<>(parquetFiles(root.resolve("sample-traces/traces")));
    assertThat(files).hasSizeGreaterThanOrEqualTo(30);
    for (String writer : List.of("duckdb", "pyarrow")) {
      files.addAll(parquetFiles(Path.of(getClass().getResource("/fixtures/" + writer).toURI())));
    }
    for (Path file : files) {
      assertSameWithOneTwoAndThreeThreads(file, ReadOptions.all());
      // batches that end inside pages
      assertSameWithOneTwoAndThreeThreads(file, ReadOptions.all().withBatchRows(333));
    }
  }

  @Test
  void generatedTraceOfManyRowGroups_sameBatchesWithOneTwoAndThreeThreads() {
    Path file = dir.resolve("many-groups.parquet");
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(12)
            .steps(1_500)
            .stepsPerEpoch(100)
            .optionalPhases(true)
            .fault(Fault.nan(5, 1_200))
            .build();
    TestTraces.write(file, trace, WriteOptions.defaults().withRowGroupRows(10_000));
    assertThat(trace.totalRows()).isGreaterThan(90_000);
    assertSameWithOneTwoAndThreeThreads(file, ReadOptions.all());
    assertSameWithOneTwoAndThreeThreads(file, ReadOptions.all().withBatchRows(4_097));
    // the default mode's projection and DeepLocalize's
    assertSameWithOneTwoAndThreeThreads(
        file,
        ReadOptions.columns(
                java.util.EnumSet.of(
                    Column.STEP, Column.LAYER_INDEX, Column.PHASE, Column.MEAN, Column.EPOCH))
            .withBatchRows(5_000));
  }

  @Test
  void nullsUnknownPhasesV2PagesAndByteStreamSplit_sameBatchesWithOneAndTwoThreads()
      throws IOException {
    ParquetTestFile base = ParquetTestFile.v1Trace(600);
    Object[] std = base.values("std").clone();
    Object[] numel = base.values("numel").clone();
    Object[] phase = base.values("phase").clone();
    for (int r = 0; r < std.length; r += 7) {
      std[r] = null;
      numel[r] = null;
    }
    for (int r = 3; r < phase.length; r += 40) {
      phase[r] = r % 80 == 3 ? "grad_norm" : "throughput";
    }
    int variant = 0;
    for (boolean v2 : new boolean[] {false, true}) {
      for (boolean split : new boolean[] {false, true}) {
        ParquetTestFile file =
            ParquetTestFile.v1Trace(600)
                .column("std", "optional double", std)
                .column("numel", "optional int64", numel)
                .column("phase", "required binary (STRING)", phase)
                .codec(CompressionCodecName.ZSTD)
                .rowGroupRows(700)
                .pageRows(97);
        if (v2) {
          file.v2Pages();
        }
        if (split) {
          file.byteStreamSplit();
        }
        Path path = dir.resolve("variant-" + variant++ + ".parquet");
        file.write(path);
        assertSameWithOneTwoAndThreeThreads(path, ReadOptions.all().withBatchRows(250));
      }
    }
  }

  /** The batch at which a read fails and its error, or "no error". */
  private static String failure(Path file, int threads) {
    try (TraceReader reader =
        ParquetTraceReader.open(file, ReadOptions.all().withDecodeThreads(threads))) {
      TraceFormatException error =
          catchThrowableOfType(
              TraceFormatException.class,
              () -> {
                while (reader.next()) {
                  // read on
                }
              });
      return error == null ? "no error" : error.code() + " " + error.getMessage();
    }
  }

  @Test
  void corruptPage_sameErrorWithOneAndTwoThreads() throws IOException {
    Path file = dir.resolve("corrupt.parquet");
    ParquetTestFile.v1Trace(200)
        .codec(CompressionCodecName.ZSTD)
        .rowGroupRows(400)
        .noChecksums()
        .write(file);
    ParquetTraceReaderTest.corruptMeanPage(file, false);
    String one = failure(file, 1);
    assertThat(one).startsWith("CORRUPT " + file + ": row group 1, column 'mean': corrupt page:");
    assertThat(failure(file, 2)).isEqualTo(one);
  }

  @Test
  void twoBadColumnsInOneBatch_theFirstInProjectionOrderIsReportedWithAnyThreads()
      throws IOException {
    Path file = dir.resolve("two-bad-columns.parquet");
    ParquetTestFile trace = ParquetTestFile.v1Trace(10).rowGroupRows(16);
    Object[] epoch = trace.values("epoch").clone();
    Object[] mean = trace.values("mean").clone();
    for (int r = 0; r < epoch.length; r++) {
      epoch[r] = r == 22 ? 1L << 40 : ((Number) epoch[r]).longValue();
    }
    mean[21] = null;
    trace
        .column("epoch", "required int64", epoch)
        .column("mean", "optional double", mean)
        .noDictionary()
        .write(file);
    String one = failure(file, 1);
    // epoch comes before mean in the projection: its error is the one reported
    assertThat(one)
        .isEqualTo(
            ErrorCode.INVALID_VALUE
                + " "
                + file
                + ": row group 1, column 'epoch': value 1099511627776 does not fit in int32");
    assertThat(failure(file, 2)).isEqualTo(one);
    assertThat(failure(file, 3)).isEqualTo(one);
  }

  @Test
  void close_stopsTheDecodeThreads() {
    Path root = Path.of(System.getProperty("repo.root", "..")).toAbsolutePath().normalize();
    Path file = root.resolve("sample-traces/traces/so-48385830-buggy.parquet");
    Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
    List<Thread> started = new ArrayList<>();
    try (TraceReader reader =
        ParquetTraceReader.open(file, ReadOptions.all().withDecodeThreads(2))) {
      assertThat(reader.next()).isTrue();
      for (Thread thread : Thread.getAllStackTraces().keySet()) {
        if (!before.contains(thread) && thread.getName().startsWith("dl-analyze-decode")) {
          started.add(thread);
        }
      }
      assertThat(started).hasSize(1);
      assertThat(started.get(0).isDaemon()).isTrue();
    }
    assertThat(started.get(0).isAlive()).isFalse();
  }

  @Test
  void decodeWorkers_runEveryTaskExactlyOnceInEveryRound() {
    DecodeWorkers workers = new DecodeWorkers(3, "test-decode");
    try {
      int[] order = {4, 2, 0, 1, 3, 5, 6};
      for (int round = 0; round < 200; round++) {
        AtomicIntegerArray runs = new AtomicIntegerArray(order.length);
        workers.run(order, runs::incrementAndGet);
        for (int i = 0; i < order.length; i++) {
          assertThat(runs.get(i)).as("round %d task %d", round, i).isEqualTo(1);
        }
      }
    } finally {
      workers.close();
    }
  }
}
