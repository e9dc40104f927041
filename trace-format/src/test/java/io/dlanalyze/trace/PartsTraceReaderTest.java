package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.trace.arrow.ArrowTraceReader;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trace written as a directory of parts, read as one: a real run (a sample trace of a real
 * training run) cut into parts written by the project's writers, read whole or followed while the
 * parts are written byte by byte.
 */
class PartsTraceReaderTest {
  /** Steps 0-119, 120-239, 240-359: one part each. */
  private static final long[] CUTS = {120, 240};

  private static MemoryTrace run;

  @TempDir Path dir;

  @BeforeAll
  static void readTheRun() {
    Path sample =
        Path.of(System.getProperty("repo.root", ".."))
            .toAbsolutePath()
            .normalize()
            .resolve("sample-traces/traces/so-48385830-buggy.parquet");
    try (TraceReader reader = TraceReaders.open(sample, ReadOptions.all())) {
      run = MemoryTrace.copyOf(reader);
    }
  }

  /** Writes the run's parts into {@code parts} (the last with a stop reason in its metadata). */
  private static List<Path> writeParts(Path parts, String extension) {
    List<MemoryTrace> pieces = new ArrayList<>(run.split(CUTS));
    MemoryTrace last = pieces.get(CUTS.length);
    pieces.set(
        CUTS.length, last.withMetadata(last.metadata().with("dltrace.stop_reason", "stopped")));
    return TestTraces.writeParts(
        parts, "part-%d" + extension, WriteOptions.defaults().withRowGroupRows(500), pieces);
  }

  private static MemoryTrace read(Path path) {
    try (TraceReader reader = TraceReaders.open(path, ReadOptions.all())) {
      return MemoryTrace.copyOf(reader);
    }
  }

  @Test
  void arrowStreamAndFileParts_readAsTheWholeRun() throws IOException {
    for (String extension : new String[] {".arrows", ".arrow"}) {
      Path parts = dir.resolve("run" + extension.replace('.', '-'));
      writeParts(parts, extension);
      assertThat(TraceReaders.detect(parts))
          .isEqualTo(
              extension.equals(".arrows") ? TraceFormat.ARROW_STREAM : TraceFormat.ARROW_FILE);
      MemoryTrace read = read(parts);
      assertThat(read.rows()).isEqualTo(run.rows());
      // the first part's metadata, and what only the last part holds
      assertThat(read.metadata().asMap())
          .containsAllEntriesOf(run.metadata().asMap())
          .containsEntry("dltrace.stop_reason", "stopped");
      try (TraceReader reader = TraceReaders.open(parts, ReadOptions.all())) {
        MemoryTrace.copyOf(reader);
        assertThat(reader.truncated()).isFalse();
        assertThat(reader.warnings()).isEmpty();
        assertThat(reader.path()).isEqualTo(parts);
      }
    }
  }

  /** Parquet parts keep their reader; its metadata now also takes what only later parts hold. */
  @Test
  void parquetParts_orderedByNumberAndMetadataMerged() throws IOException {
    Path parts = dir.resolve("run.parquet");
    List<Path> files = writeParts(parts, ".parquet");
    // pyarrow's part-{i} names: part-10 comes after part-9, not after part-1
    Files.move(files.get(2), parts.resolve("part-10.parquet"));
    Files.move(files.get(1), parts.resolve("part-9.parquet"));
    MemoryTrace read = read(parts);
    assertThat(read.rows()).isEqualTo(run.rows());
    assertThat(read.metadata().asMap()).containsEntry("dltrace.stop_reason", "stopped");
  }

  @Test
  void aPartCutBeforeTheNext_isAWarning_aCutLastPartTruncatesTheTrace() throws IOException {
    Path parts = dir.resolve("cut");
    List<Path> files = writeParts(parts, ".arrows");
    TestTraces.truncate(files.get(0), Files.size(files.get(0)) - 100);
    try (TraceReader reader = TraceReaders.open(parts, ReadOptions.all())) {
      MemoryTrace read = MemoryTrace.copyOf(reader);
      assertThat(read.rows().get(read.size() - 1)).isEqualTo(run.rows().get(run.size() - 1));
      assertThat(read.size()).isLessThan(run.size());
      assertThat(reader.truncated()).isFalse();
      assertThat(reader.warnings())
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .startsWith("part-0.arrows: truncated: recovered ");
    }
    TestTraces.truncate(files.get(2), Files.size(files.get(2)) - 100);
    try (TraceReader reader = TraceReaders.open(parts, ReadOptions.all())) {
      MemoryTrace.copyOf(reader);
      assertThat(reader.truncated()).isTrue();
      assertThat(reader.warnings()).hasSize(2);
    }
  }

  @Test
  void partsOfMixedFormatsOrNone_areErrors() throws IOException {
    Path mixed = dir.resolve("mixed");
    writeParts(mixed, ".arrows");
    Files.move(mixed.resolve("part-1.arrows"), mixed.resolve("part-1.arrow"));
    assertThatThrownBy(() -> read(mixed))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("mixes Arrow IPC stream parts");
    Path empty = Files.createDirectories(dir.resolve("empty"));
    Files.writeString(empty.resolve("_SUCCESS"), "");
    assertThatThrownBy(() -> PartsTraceReader.open(empty, ReadOptions.all()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("no part files");
  }

  /** A test waiter: polls every 5 ms; leaves a part, or ends, after 400 ms without new data. */
  private static final class Waiter implements PartsTraceReader.Waiter {
    long last = System.nanoTime();
    final List<String> waits = new ArrayList<>();

    @Override
    public boolean pause(PartsTraceReader.Wait what, boolean laterPart) throws IOException {
      if (waits.isEmpty() || !waits.get(waits.size() - 1).equals(what + " " + laterPart)) {
        waits.add(what + " " + laterPart);
      }
      if (System.nanoTime() - last > 400_000_000L
          && (what == PartsTraceReader.Wait.NEXT_PART || laterPart)) {
        return false;
      }
      if (System.nanoTime() - last > 20_000_000_000L) {
        return false;
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
      return true;
    }

    @Override
    public void progress() {
      last = System.nanoTime();
    }
  }

  /** Copies the parts' bytes into {@code to} in small writes, one part after the other. */
  private static CompletableFuture<Void> writeSlowly(List<Path> parts, Path to, int chunk) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            for (Path part : parts) {
              byte[] bytes = Files.readAllBytes(part);
              try (OutputStream out = Files.newOutputStream(to.resolve(part.getFileName()))) {
                for (int at = 0; at < bytes.length; at += chunk) {
                  out.write(bytes, at, Math.min(chunk, bytes.length - at));
                  out.flush();
                  Thread.sleep(2);
                }
              }
              Thread.sleep(50);
            }
          } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
          }
        });
  }

  @Test
  void followedParts_areReadAsTheyAreWritten_andEndAfterTheLastOne() throws Exception {
    for (String extension : new String[] {".arrows", ".arrow", ".parquet"}) {
      List<Path> parts = writeParts(dir.resolve("source" + extension.replace('.', '-')), extension);
      Path live = Files.createDirectories(dir.resolve("live" + extension.replace('.', '-')));
      // the first part appears (maybe empty), then everything comes in writes of 4,000 bytes
      Files.createFile(live.resolve(parts.get(0).getFileName()));
      CompletableFuture<Void> writer = writeSlowly(parts, live, 4_000);
      Waiter waiter = new Waiter();
      MemoryTrace read;
      boolean truncated;
      try (TraceReader reader = PartsTraceReader.follow(live, ReadOptions.all(), waiter)) {
        read = MemoryTrace.copyOf(reader);
        truncated = reader.truncated();
      }
      writer.get(60, TimeUnit.SECONDS);
      assertThat(read.rows()).as(extension).isEqualTo(run.rows());
      assertThat(truncated).isFalse();
      assertThat(read.metadata().asMap()).containsEntry("dltrace.stop_reason", "stopped");
      assertThat(waiter.waits).as(extension).contains("MORE_DATA false", "NEXT_PART false");
    }
  }

  /** A writer that left a part unfinished and went on with the next one: the part is cut. */
  @Test
  void followedPartThatStopsGrowingBeforeALaterPart_isLeftAsCut() throws Exception {
    List<Path> parts = writeParts(dir.resolve("source"), ".arrows");
    Path live = Files.createDirectories(dir.resolve("live"));
    byte[] first = Files.readAllBytes(parts.get(0));
    Files.write(live.resolve("part-0.arrows"), java.util.Arrays.copyOf(first, first.length - 100));
    Files.copy(parts.get(1), live.resolve("part-1.arrows"));
    Files.copy(parts.get(2), live.resolve("part-2.arrows"));
    Waiter waiter = new Waiter();
    try (TraceReader reader = PartsTraceReader.follow(live, ReadOptions.all(), waiter)) {
      MemoryTrace read = MemoryTrace.copyOf(reader);
      assertThat(read.rows().get(read.size() - 1)).isEqualTo(run.rows().get(run.size() - 1));
      assertThat(reader.truncated()).isFalse();
      assertThat(reader.warnings()).singleElement().asString().startsWith("part-0.arrows: ");
    }
    assertThat(waiter.waits).contains("MORE_DATA true");
  }

  /** A single IPC file followed while written ends at its end-of-stream marker, not truncated. */
  @Test
  void followedArrowFile_endsAtItsEndOfStreamMarker() throws Exception {
    Path source = run.write(dir.resolve("whole.arrow"), WriteOptions.defaults());
    Path live = dir.resolve("live.arrow");
    Files.createFile(live);
    Path liveDir = Files.createDirectories(dir.resolve("one"));
    CompletableFuture<Void> writer = writeSlowly(List.of(source), liveDir, 8_000);
    Path growing = liveDir.resolve("whole.arrow");
    while (!Files.exists(growing)) {
      Thread.sleep(1);
    }
    Waiter waiter = new Waiter();
    try (ArrowTraceReader reader =
        ArrowTraceReader.follow(
            growing,
            TraceFormat.ARROW_FILE,
            ReadOptions.all(),
            size -> {
              while (Files.size(growing) <= size) {
                if (!waiter.pause(PartsTraceReader.Wait.MORE_DATA, false)) {
                  return false;
                }
              }
              waiter.progress();
              return true;
            })) {
      MemoryTrace read = MemoryTrace.copyOf(reader);
      assertThat(read.rows()).isEqualTo(run.rows());
      assertThat(reader.truncated()).isFalse();
      assertThat(reader.warnings()).isEmpty();
    }
    writer.get(60, TimeUnit.SECONDS);
  }
}
