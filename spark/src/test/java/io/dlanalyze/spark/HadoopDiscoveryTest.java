package io.dlanalyze.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.batch.LocalDiscovery;
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
    Inputs.mixed(input);
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
}
