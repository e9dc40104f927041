package io.dlanalyze.cli.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.ThreadMXBean;
import io.dlanalyze.analyzer.AnalysisConfig;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.cli.eval.Manifest;
import io.dlanalyze.cli.eval.ManifestException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The fuzz targets and their invariants, shared by the Jazzer fuzz tests and the fixed-seed
 * mutation runs: parsing any bytes as a config file or an eval manifest either succeeds or fails
 * with the documented error (an {@link IllegalArgumentException} for a config, a {@link
 * ManifestException} for a manifest) whose message is one line starting with the file's name and at
 * most {@value #MAX_MESSAGE} characters long; nothing else is thrown; and the allocation stays
 * under {@value #FIXED_BYTES} bytes plus {@value #BYTES_PER_INPUT_BYTE} per input byte.
 */
final class FuzzTargets {
  static final String YAML_NAME = "fuzz.yaml";
  static final String JSON_NAME = "fuzz.json";
  static final Path MANIFEST = Path.of("/fuzz/manifest.json");

  static final int MAX_MESSAGE = 1_000;
  static final long FIXED_BYTES = 64L << 20;
  static final long BYTES_PER_INPUT_BYTE = 200;

  private static final ThreadMXBean THREADS = (ThreadMXBean) ManagementFactory.getThreadMXBean();

  private FuzzTargets() {}

  static void config(String name, byte[] data) {
    String text = new String(data, StandardCharsets.UTF_8);
    assertBounded(
        data.length,
        () -> {
          try {
            AnalysisConfig.apply(name, text, AnalysisOptions.builder()).build();
          } catch (IllegalArgumentException e) {
            assertOneLine(e.getMessage(), name);
          }
        });
  }

  static void manifest(byte[] data) {
    assertBounded(
        data.length,
        () -> {
          try {
            Manifest manifest = Manifest.parse(MANIFEST, data);
            assertThat(manifest.cases()).allSatisfy(c -> assertThat(c.trace()).isAbsolute());
          } catch (ManifestException e) {
            assertOneLine(e.getMessage(), MANIFEST.toString());
          }
        });
  }

  private static void assertOneLine(String message, String file) {
    assertThat(message).startsWith(file + ": ");
    assertThat(message.length()).as(message).isLessThanOrEqualTo(MAX_MESSAGE);
    assertThat(message).doesNotContain("\n").doesNotContain("\r");
  }

  /**
   * Runs the target and checks what it allocated. The first parse of a kind also loads classes in
   * this thread, and under the fuzzing engine instruments them (about 200 MB for an empty input):
   * that is not the input's doing, so a run over the bound is measured once more and only the
   * repeat counts.
   */
  private static void assertBounded(int inputBytes, Runnable target) {
    long allocated = allocated(target);
    if (allocated > FIXED_BYTES + BYTES_PER_INPUT_BYTE * inputBytes) {
      allocated = allocated(target);
    }
    assertThat(allocated)
        .as("bytes allocated for %d input bytes", inputBytes)
        .isLessThanOrEqualTo(FIXED_BYTES + BYTES_PER_INPUT_BYTE * inputBytes);
  }

  private static long allocated(Runnable target) {
    long before = THREADS.getCurrentThreadAllocatedBytes();
    target.run();
    return THREADS.getCurrentThreadAllocatedBytes() - before;
  }
}
