package io.dlanalyze.trace.tensorboard;

import static io.dlanalyze.trace.tensorboard.TbRows.fixture;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fixed-seed mutation test of the event file reader over the committed fixtures: truncations, bit
 * flips, damaged lengths, lengths forged with a valid checksum, record data replaced by other bytes
 * with both checksums made valid (so the protobuf decoder and the row builder see garbage), and cut
 * or repeated spans. Invariants: the reader either reads the file or throws a {@link
 * TraceFormatException} with a one-line message; and it allocates in proportion to the file, never
 * what a forged length or shape asks for.
 */
class TensorBoardMutationTest {
  private static final long SEED = 20_261_203L;
  private static final int MUTATIONS_PER_FILE = 100;

  /** Allocation allowed per read: a fixed part (batch arrays, classes) plus this many per byte. */
  private static final long FIXED_ALLOWANCE = 8L << 20;

  private static final long PER_BYTE_ALLOWANCE = 200;

  @TempDir Path dir;

  @Test
  void mutatedEventFiles_readOrFailWithTraceFormatExceptionWithinBoundedAllocation()
      throws IOException {
    List<Path> sources = new ArrayList<>();
    for (String name : List.of("torch", "tf-summary", "lightning", "keras-epoch")) {
      sources.addAll(TbRows.eventFiles(fixture(name)));
    }
    // class loading and first-use initialization are not the reader's allocations
    for (Path source : sources) {
      TbRows.read(source);
    }
    Random random = new Random(SEED);
    int read = 0;
    int failed = 0;
    for (Path source : sources) {
      byte[] original = Files.readAllBytes(source);
      List<long[]> records = records(source);
      for (int i = 0; i < MUTATIONS_PER_FILE; i++) {
        int kind = random.nextInt(6);
        byte[] mutated = mutate(original, records, kind, random);
        Path file = dir.resolve("events.out.tfevents." + i + ".mutant");
        Files.write(file, mutated);
        String what = String.format("%s, mutation %d of kind %d", source.getFileName(), i, kind);
        long before = TfRecordReaderTest.allocated();
        try (TraceReader reader = TraceReaders.open(file, ReadOptions.all().withBatchRows(1024))) {
          TbRows.read(reader);
          reader.warnings();
          read++;
        } catch (TraceFormatException e) {
          assertThat(e.getMessage()).as(what).doesNotContain("\n");
          assertThat(e.getMessage()).as(what).startsWith(file.toString());
          failed++;
        } catch (RuntimeException | Error e) {
          fail(what + ": " + e, e);
        }
        long allocated = TfRecordReaderTest.allocated() - before;
        assertThat(allocated)
            .as(what + ": bytes allocated for a file of %d bytes", mutated.length)
            .isLessThan(FIXED_ALLOWANCE + PER_BYTE_ALLOWANCE * mutated.length);
        Files.delete(file);
      }
    }
    // both outcomes occur: the mutations are neither all harmless nor all fatal
    assertThat(read).isGreaterThan(sources.size() * MUTATIONS_PER_FILE / 10);
    assertThat(failed).isGreaterThan(sources.size() * MUTATIONS_PER_FILE / 10);
  }

  /** (offset, data length) of every record of a file. */
  private static List<long[]> records(Path file) {
    List<long[]> records = new ArrayList<>();
    try (TfRecordReader reader = TfRecordReader.open(file)) {
      while (reader.next()) {
        records.add(new long[] {reader.recordOffset(), reader.length()});
      }
    }
    return records;
  }

  private static byte[] mutate(byte[] original, List<long[]> records, int kind, Random random) {
    byte[] bytes = original.clone();
    long[] record = records.get(1 + random.nextInt(records.size() - 1));
    int offset = (int) record[0];
    int length = (int) record[1];
    switch (kind) {
      case 0 -> {
        return Arrays.copyOf(bytes, random.nextInt(bytes.length));
      }
      case 1 -> {
        int flips = 1 + random.nextInt(8);
        for (int f = 0; f < flips; f++) {
          int at = random.nextInt(bytes.length);
          bytes[at] ^= (byte) (1 << random.nextInt(8));
        }
        return bytes;
      }
      case 2 -> {
        ByteBuffer.wrap(bytes, offset, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(random.nextLong());
        return bytes;
      }
      case 3 -> {
        long forged =
            random.nextBoolean()
                ? random.nextInt(Integer.MAX_VALUE)
                : length + random.nextInt(64) - 32L;
        byte[] header = TfRecordReaderTest.header(Math.max(0, forged));
        System.arraycopy(header, 0, bytes, offset, header.length);
        return bytes;
      }
      case 4 -> {
        // garbage the checksums vouch for: the decoder and the row builder must cope
        byte[] data = Arrays.copyOfRange(bytes, offset + 12, offset + 12 + length);
        int changes = 1 + random.nextInt(Math.max(1, data.length / 4));
        for (int c = 0; c < changes; c++) {
          data[random.nextInt(data.length)] = (byte) random.nextInt(256);
        }
        byte[] forged = TfRecordReaderTest.record(data);
        System.arraycopy(forged, 0, bytes, offset, forged.length);
        return bytes;
      }
      default -> {
        int from = random.nextInt(bytes.length);
        int span = random.nextInt(Math.min(4096, bytes.length - from) + 1);
        byte[] out = new byte[bytes.length + (random.nextBoolean() ? span : -span)];
        if (out.length > bytes.length) {
          System.arraycopy(bytes, 0, out, 0, from + span);
          System.arraycopy(bytes, from, out, from + span, bytes.length - from);
        } else {
          System.arraycopy(bytes, 0, out, 0, from);
          System.arraycopy(bytes, from + span, out, from, bytes.length - from - span);
        }
        return out;
      }
    }
  }
}
