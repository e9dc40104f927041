package io.dlanalyze.batch;

import static io.dlanalyze.trace.TestTraces.small;
import static io.dlanalyze.trace.TestTraces.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.TestTraces;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FingerprintsTest {
  @TempDir Path dir;

  @Test
  void ofLocal_sameFile_sameFingerprint() throws IOException {
    Path trace = write(dir.resolve("a.arrows"), small(1));

    Fingerprint first = Fingerprints.ofLocal(trace);

    assertThat(Fingerprints.ofLocal(trace)).isEqualTo(first);
    assertThat(first.sameAs(Fingerprints.ofLocal(trace))).isTrue();
    assertThat(first.sizeBytes()).isEqualTo(Files.size(trace));
    assertThat(first.modifiedMillis()).isEqualTo(Files.getLastModifiedTime(trace).toMillis());
    assertThat(first.contentHash()).startsWith("sha256:").hasSize("sha256:".length() + 64);
  }

  @Test
  void ofLocal_appendedBytes_differentSizeAndHash() throws IOException {
    Path trace = write(dir.resolve("a.arrows"), small(1));
    Fingerprint before = Fingerprints.ofLocal(trace);

    Files.write(trace, new byte[] {1, 2, 3}, StandardOpenOption.APPEND);
    TestTraces.touch(trace, -10_000);

    Fingerprint after = Fingerprints.ofLocal(trace);
    assertThat(after.sizeBytes()).isEqualTo(before.sizeBytes() + 3);
    assertThat(after.contentHash()).isNotEqualTo(before.contentHash());
    assertThat(after.sameAs(before)).isFalse();
  }

  @Test
  void ofLocal_touchedOnly_differentMtimeSameHash() throws IOException {
    Path trace = write(dir.resolve("a.arrows"), small(1));
    Fingerprint before = Fingerprints.ofLocal(trace);

    TestTraces.touch(trace, 5_000);

    Fingerprint after = Fingerprints.ofLocal(trace);
    assertThat(after.contentHash()).isEqualTo(before.contentHash());
    assertThat(after.sameAs(before)).isFalse();
  }

  @Test
  void ofLocal_sameSizeAndMtimeDifferentTail_differentHash() throws IOException {
    Path trace = dir.resolve("big.arrows");
    byte[] bytes = new byte[3 * Fingerprints.EDGE_BYTES];
    Files.write(trace, bytes);
    Fingerprint before = Fingerprints.ofLocal(trace);

    bytes[bytes.length - 1] = 7;
    Files.write(trace, bytes);
    Files.setLastModifiedTime(
        trace, java.nio.file.attribute.FileTime.fromMillis(before.modifiedMillis()));

    Fingerprint after = Fingerprints.ofLocal(trace);
    assertThat(after.sizeBytes()).isEqualTo(before.sizeBytes());
    assertThat(after.modifiedMillis()).isEqualTo(before.modifiedMillis());
    assertThat(after.sameAs(before)).isFalse();
  }

  @Test
  void ofLocal_middleOfLargeFileEdited_notSeen() throws IOException {
    // The documented blind spot of the head/tail rule: same size, mtime, head and tail.
    Path trace = dir.resolve("big.arrows");
    byte[] bytes = new byte[3 * Fingerprints.EDGE_BYTES];
    Files.write(trace, bytes);
    Fingerprint before = Fingerprints.ofLocal(trace);

    bytes[bytes.length / 2] = 7;
    Files.write(trace, bytes);
    Files.setLastModifiedTime(
        trace, java.nio.file.attribute.FileTime.fromMillis(before.modifiedMillis()));

    assertThat(Fingerprints.ofLocal(trace)).isEqualTo(before);
  }

  @Test
  void ofLocal_partDirectory_changesWhenAPartIsAdded() throws IOException {
    Path dataset = dir.resolve("run.parquet");
    write(dataset.resolve("part-0.parquet"), small(1));
    Fingerprint one = Fingerprints.ofLocal(dataset);

    write(dataset.resolve("part-1.parquet"), small(2));

    Fingerprint two = Fingerprints.ofLocal(dataset);
    assertThat(two.sizeBytes())
        .isEqualTo(
            Files.size(dataset.resolve("part-0.parquet"))
                + Files.size(dataset.resolve("part-1.parquet")));
    assertThat(two.contentHash()).isNotEqualTo(one.contentHash());
  }

  @Test
  void ofLocalOrUnavailable_missingFile_neverMatches() {
    Fingerprint missing = Fingerprints.ofLocalOrUnavailable(dir.resolve("missing.arrows"));

    assertThat(missing.contentHash()).isEqualTo(Fingerprint.UNAVAILABLE);
    assertThat(missing.sameAs(missing)).isFalse();
  }

  @Test
  void ofLocal_csvSidecarChanged_differentHash_sameSizeAndTime() throws IOException {
    Path trace = write(dir.resolve("a.csv"), small(1));
    Path sidecar = dir.resolve("a.csv.meta.json");
    long csvTime = Files.getLastModifiedTime(trace).toMillis();
    Fingerprint before = Fingerprints.ofLocal(trace);

    String metadata = Files.readString(sidecar);
    Files.writeString(sidecar, metadata.replace("synthetic-1", "synthetic-2"));

    Fingerprint after = Fingerprints.ofLocal(trace);
    assertThat(after.sizeBytes()).isEqualTo(before.sizeBytes());
    assertThat(after.modifiedMillis()).isEqualTo(csvTime);
    assertThat(after.sameAs(before)).isFalse();
  }

  @Test
  void ofLocal_namedPipe_isNotOpened() throws Exception {
    Path fifo = dir.resolve("a.csv");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();

    // opening the pipe would block forever: no writer
    assertThat(Fingerprints.ofLocalOrUnavailable(fifo).contentHash())
        .isEqualTo(Fingerprint.UNAVAILABLE);
  }
}
