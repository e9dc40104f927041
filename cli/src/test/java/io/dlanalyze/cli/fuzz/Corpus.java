package io.dlanalyze.cli.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The committed corpus: Jazzer's regression inputs, {@code
 * src/test/resources/io/dlanalyze/cli/fuzz/<Class>Inputs/<method>/}: the seeds written by hand and
 * every input a fuzzing run found crashing (kept as regression seeds).
 */
public final class Corpus {
  private Corpus() {}

  /** The files of one fuzz test's corpus, sorted by name. */
  public static List<Path> files(Class<?> test, String method) {
    try {
      Path directory = Path.of(test.getResource(test.getSimpleName() + "Inputs/" + method).toURI());
      try (Stream<Path> files = Files.list(directory)) {
        return files.filter(Files::isRegularFile).sorted().toList();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The bytes of one fuzz test's corpus files. */
  static List<byte[]> seeds(Class<?> test, String method) {
    List<byte[]> seeds = new ArrayList<>();
    for (Path file : files(test, method)) {
      try {
        seeds.add(Files.readAllBytes(file));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return seeds;
  }
}
