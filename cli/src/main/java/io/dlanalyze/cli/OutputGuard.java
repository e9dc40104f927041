package io.dlanalyze.cli;

import io.dlanalyze.trace.csv.CsvSidecar;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * Refuses an output path that would replace an input: the input file itself (also through a
 * symbolic link or another spelling of the path), a file inside an input directory of Parquet
 * parts, or the sidecar {@code .meta.json} of a CSV input.
 */
final class OutputGuard {
  private OutputGuard() {}

  /** True when writing {@code output} would replace {@code input} or a file it is read from. */
  static boolean overwrites(Path input, Path output) {
    Path in = real(input);
    Path out = real(output);
    if (in == null || out == null) {
      return false;
    }
    if (out.equals(in) || Files.isDirectory(in) && out.startsWith(in)) {
      return true;
    }
    for (Path sidecar : new Path[] {CsvSidecar.path(input), CsvSidecar.alternatePath(input)}) {
      if (sidecar != null && Files.isRegularFile(sidecar) && out.equals(real(sidecar))) {
        return true;
      }
    }
    return false;
  }

  /**
   * The path with every existing part resolved (links followed); a file that does not exist yet is
   * its real parent directory plus its name; null when not even the parent exists.
   */
  private static @Nullable Path real(Path path) {
    try {
      if (Files.exists(path)) {
        return path.toRealPath();
      }
      Path absolute = path.toAbsolutePath().normalize();
      Path parent = absolute.getParent();
      if (parent == null || !Files.exists(parent) || absolute.getFileName() == null) {
        return null;
      }
      return parent.toRealPath().resolve(absolute.getFileName());
    } catch (IOException | SecurityException e) {
      return null;
    }
  }
}
