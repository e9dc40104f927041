package io.dlanalyze.trace.fuzz;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The corpus of a fuzz test: the files in its Jazzer inputs directory ({@code
 * <TestClass>Inputs/fuzz/} under the test resources: valid seeds and the inputs that once broke a
 * reader), and the fixed-seed mutants of them that {@code mvn verify} runs.
 *
 * <p>{@code -Dfuzz.minutes=M} turns the fixed run into a time-bounded one with fresh random seeds,
 * printing how many inputs it ran and saving any failing one under {@code target/fuzz-findings/}.
 */
final class Corpus {
  /** Mutants per seed file in the fixed run of {@code mvn verify}. */
  static final int MUTANTS_PER_SEED = 150;

  private Corpus() {}

  /** The files of the test class's inputs directory, in name order. */
  static List<byte[]> inputs(Class<?> test) {
    String resource = test.getSimpleName() + "Inputs/fuzz";
    URL url = test.getResource(resource);
    if (url == null) {
      throw new IllegalStateException("no inputs directory " + resource);
    }
    try (Stream<Path> files = Files.list(Path.of(url.toURI()))) {
      List<byte[]> inputs = new ArrayList<>();
      for (Path file : files.sorted().toList()) {
        inputs.add(Files.readAllBytes(file));
      }
      return inputs;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Runs the mutants of every input of the test class through the format's reader: {@link
   * #MUTANTS_PER_SEED} each from a fixed seed, or for {@code fuzz.minutes} minutes from fresh ones.
   *
   * @return the number of inputs run
   */
  static long runMutants(Class<?> test, FuzzFormat format) {
    List<byte[]> inputs = inputs(test);
    String minutes = System.getProperty("fuzz.minutes", "");
    if (minutes.isBlank()) {
      long runs = 0;
      for (int i = 0; i < inputs.size(); i++) {
        SplittableRandom random = new SplittableRandom(0x5eed_0000L + i);
        for (int m = 0; m < MUTANTS_PER_SEED; m++) {
          run(format, Mutator.mutate(inputs.get(i), random), test, -1);
          runs++;
        }
      }
      return runs;
    }
    long deadline = System.nanoTime() + (long) (Double.parseDouble(minutes) * 60e9);
    long seed = System.nanoTime();
    SplittableRandom random = new SplittableRandom(seed);
    long runs = 0;
    while (System.nanoTime() < deadline) {
      byte[] input = inputs.get(random.nextInt(inputs.size()));
      run(format, Mutator.mutate(input, random), test, runs);
      runs++;
    }
    System.out.println(
        format(
            ROOT,
            "%s: %d mutants in %s minutes (seed %d)",
            test.getSimpleName(),
            runs,
            minutes,
            seed));
    return runs;
  }

  private static void run(FuzzFormat format, byte[] input, Class<?> test, long index) {
    try {
      ReaderCheck.check(format, input);
    } catch (Throwable t) {
      Path saved = save(test, input);
      throw new AssertionError(
          format(
              ROOT, "%s: input %d fails (saved as %s): %s", test.getSimpleName(), index, saved, t),
          t);
    }
  }

  private static Path save(Class<?> test, byte[] input) {
    try {
      Path dir = Path.of("target", "fuzz-findings", test.getSimpleName());
      Files.createDirectories(dir);
      Path file = dir.resolve(format(ROOT, "crash-%08x", java.util.Arrays.hashCode(input)));
      Files.write(file, input);
      return file.toAbsolutePath();
    } catch (IOException e) {
      return null;
    }
  }
}
