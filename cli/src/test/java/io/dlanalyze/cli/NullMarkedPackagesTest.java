package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * NullAway checks only {@code @NullMarked} code: every package of production code is marked in its
 * package-info.java (or, in a package the project does not own, each class is), so a new package
 * cannot slip past the check unnoticed.
 */
class NullMarkedPackagesTest {
  private static final Path ROOT = Python.repoRoot();

  @Test
  void everyProductionPackageIsNullMarked() throws IOException {
    List<Path> sourceRoots = new ArrayList<>();
    try (Stream<Path> modules = Files.list(ROOT)) {
      modules
          .map(module -> module.resolve("src/main/java"))
          .filter(Files::isDirectory)
          .sorted()
          .forEach(sourceRoots::add);
    }
    assertThat(sourceRoots)
        .extracting(root -> ROOT.relativize(root).getName(0).toString())
        .contains("trace-format", "analyzer", "batch", "cli", "spark", "benchmarks");
    TreeSet<String> packages = new TreeSet<>();
    List<String> unmarked = new ArrayList<>();
    for (Path sourceRoot : sourceRoots) {
      for (Path directory : packageDirectories(sourceRoot)) {
        String where = ROOT.relativize(directory).toString();
        packages.add(where);
        if (!marked(directory)) {
          unmarked.add(where);
        }
      }
    }
    assertThat(packages).hasSizeGreaterThan(15);
    assertThat(unmarked).as("packages without @NullMarked").isEmpty();
  }

  /** The directories that hold Java sources (a package each). */
  private static List<Path> packageDirectories(Path sourceRoot) throws IOException {
    TreeSet<Path> directories = new TreeSet<>();
    try (Stream<Path> walk = Files.walk(sourceRoot)) {
      walk.filter(p -> p.getFileName().toString().endsWith(".java"))
          .forEach(p -> directories.add(p.getParent()));
    }
    return new ArrayList<>(directories);
  }

  /** Marked in package-info.java, or else in every class of the directory. */
  private static boolean marked(Path directory) throws IOException {
    Path info = directory.resolve("package-info.java");
    if (Files.exists(info)) {
      return Files.readString(info).contains("@NullMarked");
    }
    try (Stream<Path> files = Files.list(directory)) {
      for (Path file : files.filter(p -> p.toString().endsWith(".java")).toList()) {
        if (!Files.readString(file).contains("\n@NullMarked\n")) {
          return false;
        }
      }
    }
    return true;
  }
}
