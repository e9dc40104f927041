package io.dlanalyze.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.batch.LocalDiscovery;
import io.dlanalyze.trace.TestTraces;
import io.dlanalyze.trace.TraceFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HadoopDiscoveryTest {
  @TempDir Path dir;
  Path input;
  Path out;
  final Configuration conf = new Configuration();

  @BeforeEach
  void layout() throws IOException {
    input = dir.toAbsolutePath().resolve("in");
    TestTraces.mixed(input);
    out = input.resolve("results");
    Files.createDirectories(out);
    Files.writeString(out.resolve("runs.parquet"), "not searched");
    Files.createDirectories(input.resolve(".hidden"));
    Files.writeString(input.resolve(".hidden/x.arrows"), "hidden");
  }

  List<String> hadoop(String... arguments) {
    org.apache.hadoop.fs.Path outPath = new org.apache.hadoop.fs.Path(out.toUri());
    List<String> paths = new ArrayList<>();
    for (String uri : HadoopDiscovery.find(List.of(arguments), outPath, conf).traces()) {
      paths.add(HadoopTraces.displayPath(new org.apache.hadoop.fs.Path(uri)));
    }
    return paths;
  }

  List<String> local(String... arguments) {
    List<String> paths = new ArrayList<>();
    for (Path path : LocalDiscovery.find(List.of(arguments), out).traces()) {
      paths.add(path.toString());
    }
    return paths;
  }

  @Test
  void find_directory_sameTracesAsTheLocalWalk() {
    assertThat(hadoop(input.toString())).isEqualTo(local(input.toString())).hasSize(10);
  }

  @Test
  void find_uriAndGlob_sameTracesAsTheLocalWalk() {
    assertThat(hadoop(input.toUri().toString())).isEqualTo(local(input.toString()));
    assertThat(hadoop(input + "/*.arrow*", input + "/deep/*"))
        .isEqualTo(local(input + "/*.arrow*", input + "/deep/*"))
        .hasSize(7);
  }

  @Test
  void find_missingPath_throwsNotFound() {
    assertThatThrownBy(() -> hadoop(input.resolve("missing").toString()))
        .isInstanceOf(TraceFormatException.class)
        .hasMessageContaining("missing: no such file or directory");
  }

  @Test
  void fingerprint_sameAsTheLocalRule() throws IOException {
    org.apache.hadoop.fs.FileSystem fs = org.apache.hadoop.fs.FileSystem.getLocal(conf);
    for (String name :
        List.of("healthy.arrows", "dataset.parquet", "empty.arrow", "deep/inf.parquet")) {
      Path local = input.resolve(name);
      assertThat(
              HadoopTraces.fingerprint(
                  fs, fs.getFileStatus(new org.apache.hadoop.fs.Path(local.toUri()))))
          .as(name)
          .isEqualTo(io.dlanalyze.batch.Fingerprints.ofLocal(local));
    }
  }

  /**
   * TensorBoard runs and Arrow part directories, beside traces of their own: a real Keras run
   * (train/ and validation/), a recorder's part directory and a directory of independent traces.
   */
  Path runDirectories() throws IOException {
    Path root = dir.toAbsolutePath().resolve("archive");
    TestTraces.kerasBuggyRun(root.resolve("keras/fit-1"));
    TestTraces.write(root.resolve("keras/fit-1/export.arrows"), TestTraces.small(1));
    Files.writeString(root.resolve("keras/dl-analyze-tags.json"), "{}");
    TestTraces.writeParts(root.resolve("runs/7"), TestTraces.small(2), ".arrows", 100);
    TestTraces.write(root.resolve("flat/a.arrows"), TestTraces.small(3));
    TestTraces.write(root.resolve("flat/b.arrows"), TestTraces.small(4));
    return root;
  }

  @Test
  void find_tensorBoardRunsAndArrowPartDirectories_sameAsTheLocalWalk() throws IOException {
    Path root = runDirectories();

    assertThat(hadoop(root.toString()))
        .isEqualTo(local(root.toString()))
        .containsExactly(
            root.resolve("flat/a.arrows").toString(),
            root.resolve("flat/b.arrows").toString(),
            root.resolve("keras/fit-1").toString(),
            root.resolve("keras/fit-1/export.arrows").toString(),
            root.resolve("runs/7").toString());
    assertThat(hadoop(root + "/keras/*/train/events.*"))
        .isEqualTo(local(root + "/keras/*/train/events.*"))
        .containsExactly(
            root.resolve("keras/fit-1/train/events.out.tfevents.0.fixture.v2").toString());
    assertThat(hadoop(root + "/*/*")).isEqualTo(local(root + "/*/*")).hasSize(5);
  }

  @Test
  void fingerprint_runDirectories_sameAsTheLocalRule() throws IOException {
    Path root = runDirectories();
    org.apache.hadoop.fs.FileSystem fs = org.apache.hadoop.fs.FileSystem.getLocal(conf);
    for (Path local : List.of(root.resolve("keras/fit-1"), root.resolve("runs/7"))) {
      io.dlanalyze.batch.Fingerprint expected = io.dlanalyze.batch.Fingerprints.ofLocal(local);
      assertThat(
              HadoopTraces.fingerprint(
                  fs, fs.getFileStatus(new org.apache.hadoop.fs.Path(local.toUri()))))
          .as(local.toString())
          .isEqualTo(expected);
      assertThat(expected.sizeBytes()).isPositive();
    }
  }
}
