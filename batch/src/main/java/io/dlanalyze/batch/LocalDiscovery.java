package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Finds the traces under the paths of a command line on the local file system, by the rules of
 * {@link TraceNames}.
 *
 * <ul>
 *   <li>a file is a trace whatever its name;
 *   <li>a directory is walked recursively (symbolic links to directories are not followed);
 *   <li>a glob ({@code /data/runs/2026-11-*}, {@code 'runs/**.arrows'}) is matched against every
 *       path under its fixed leading directories: matching files are traces when their names are
 *       trace names, matching directories are walked as above;
 *   <li>the output directory is never searched, so results tables are not analysed as traces.
 * </ul>
 *
 * The traces come back sorted by path, each once.
 */
public final class LocalDiscovery {
  private LocalDiscovery() {}

  /**
   * The result: the traces found, and non-fatal notes (a glob that matched nothing, a directory
   * that could not be listed).
   */
  public record Found(List<Path> traces, List<String> notes) {
    public Found {
      traces = List.copyOf(traces);
      notes = List.copyOf(notes);
    }
  }

  /**
   * Finds the traces under {@code arguments}.
   *
   * @param arguments files, directories or glob patterns
   * @param exclude a directory never searched (the output directory), or {@code null}
   * @throws TraceFormatException NOT_FOUND when a path that is not a glob does not exist
   */
  public static Found find(List<String> arguments, Path exclude) {
    requireNonNull(arguments, "arguments is null");
    Path excluded = exclude == null ? null : exclude.toAbsolutePath().normalize();
    Map<String, Path> traces = new TreeMap<>();
    List<String> notes = new ArrayList<>();
    for (String argument : arguments) {
      if (TraceNames.isGlob(argument)) {
        int before = traces.size();
        glob(argument, excluded, traces, notes);
        if (traces.size() == before) {
          notes.add(format(ROOT, "%s: no trace matches this pattern", argument));
        }
        continue;
      }
      Path path = Path.of(argument).toAbsolutePath().normalize();
      if (!Files.exists(path)) {
        throw new TraceFormatException(
            ErrorCode.NOT_FOUND, path, null, "no such file or directory");
      }
      if (Files.isDirectory(path)) {
        directory(path, excluded, traces, notes);
      } else {
        traces.put(path.toString(), path);
      }
    }
    return new Found(new ArrayList<>(traces.values()), notes);
  }

  /** A directory argument or a directory met by a glob: one trace, or walked. */
  private static void directory(
      Path path, Path excluded, Map<String, Path> traces, List<String> notes) {
    if (path.equals(excluded)) {
      return;
    }
    Path name = path.getFileName();
    if (name != null && TraceNames.isPartDirectory(name.toString())) {
      traces.put(path.toString(), path);
      return;
    }
    walk(path, excluded, null, traces, notes);
  }

  private static void glob(
      String argument, Path excluded, Map<String, Path> traces, List<String> notes) {
    Path pattern = Path.of(argument).toAbsolutePath().normalize();
    Path base = pattern.getRoot();
    for (Path part : pattern) {
      if (TraceNames.isGlob(part.toString())) {
        break;
      }
      base = base.resolve(part);
    }
    if (!Files.isDirectory(base)) {
      notes.add(format(ROOT, "%s: directory %s does not exist", argument, base));
      return;
    }
    PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
    walk(base, excluded, matcher, traces, notes);
  }

  /**
   * Walks {@code root}. Without a matcher every trace name counts; with one, only paths it matches
   * count, and a matching directory is taken whole.
   */
  private static void walk(
      Path root, Path excluded, PathMatcher matcher, Map<String, Path> traces, List<String> notes) {
    try {
      Files.walkFileTree(
          root,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
              if (dir.equals(excluded)) {
                return FileVisitResult.SKIP_SUBTREE;
              }
              if (dir.equals(root)) {
                return FileVisitResult.CONTINUE;
              }
              String name = dir.getFileName().toString();
              if (TraceNames.isHidden(name)) {
                return FileVisitResult.SKIP_SUBTREE;
              }
              if (matcher != null && matcher.matches(dir)) {
                directory(dir, excluded, traces, notes);
                return FileVisitResult.SKIP_SUBTREE;
              }
              if (matcher == null && TraceNames.isPartDirectory(name)) {
                traces.put(dir.toString(), dir);
                return FileVisitResult.SKIP_SUBTREE;
              }
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
              if (!attrs.isDirectory()
                  && TraceNames.isTraceFile(file.getFileName().toString())
                  && (matcher == null || matcher.matches(file))) {
                traces.put(file.toString(), file);
              }
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
              notes.add(format(ROOT, "%s: cannot be listed: %s", file, e.getMessage()));
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      notes.add(format(ROOT, "%s: cannot be listed: %s", root, e.getMessage()));
    }
  }
}
