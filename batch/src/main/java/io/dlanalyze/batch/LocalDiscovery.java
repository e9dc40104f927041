package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.tensorboard.TensorBoardRun;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

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
 *   <li>a TensorBoard run directory ({@link TensorBoardRun}: event files in it, or in its {@code
 *       train} and {@code validation} subdirectories) is one trace; its other files are still
 *       searched, its event files and role subdirectories are not traces of their own; an event
 *       file a glob matches is a trace of its own;
 *   <li>a directory of Arrow IPC part files ({@code runs/7/part-00000.arrows}, {@link
 *       TraceDirectories}) is one trace, like a {@code *.parquet} directory; its other files and
 *       subdirectories are still searched, its Arrow IPC files are not traces of their own; a part
 *       file a glob matches is a trace of its own;
 *   <li>the output directory is never searched, so results tables are not analysed as traces.
 * </ul>
 *
 * The traces come back sorted by path, each once. A directory that cannot be listed is not a note
 * but an {@link Unlisted} path, which the batch turns into an error row: the traces in it are not
 * silently missing.
 */
public final class LocalDiscovery {
  private LocalDiscovery() {}

  /**
   * The result: the traces found, the paths that could not be listed (a directory without read
   * permission: the traces in it may be missed, so the batch counts each as unreadable), and
   * non-fatal notes (a glob that matched nothing).
   */
  public record Found(List<Path> traces, List<Unlisted> unlisted, List<String> notes) {
    public Found {
      traces = List.copyOf(traces);
      unlisted = List.copyOf(unlisted);
      notes = List.copyOf(notes);
    }

    public Found(List<Path> traces, List<String> notes) {
      this(traces, List.of(), notes);
    }
  }

  /** A path met during the walk that could not be listed or looked at, and why. */
  public record Unlisted(Path path, String reason) {
    public Unlisted {
      requireNonNull(path, "path is null");
      requireNonNull(reason, "reason is null");
    }
  }

  /**
   * Finds the traces under {@code arguments}.
   *
   * @param arguments files, directories or glob patterns
   * @param exclude a directory never searched (the output directory), or {@code null}
   * @throws TraceFormatException NOT_FOUND when a path that is not a glob does not exist
   */
  public static Found find(List<String> arguments, @Nullable Path exclude) {
    requireNonNull(arguments, "arguments is null");
    Path excluded = exclude == null ? null : exclude.toAbsolutePath().normalize();
    Map<String, Path> traces = new TreeMap<>();
    Map<String, Unlisted> unlisted = new TreeMap<>();
    List<String> notes = new ArrayList<>();
    for (String argument : arguments) {
      if (TraceNames.isGlob(argument)) {
        int before = traces.size();
        glob(argument, excluded, traces, unlisted, notes);
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
        directory(path, excluded, traces, unlisted);
      } else {
        traces.put(path.toString(), path);
      }
    }
    for (String path : traces.keySet()) {
      unlisted.remove(path);
    }
    return new Found(new ArrayList<>(traces.values()), new ArrayList<>(unlisted.values()), notes);
  }

  /** A directory argument or a directory met by a glob: one trace, or walked, or both. */
  private static void directory(
      Path path,
      @Nullable Path excluded,
      Map<String, Path> traces,
      Map<String, Unlisted> unlisted) {
    if (path.equals(excluded)) {
      return;
    }
    TraceDirectories.Kind kind = kind(path);
    if (kind == TraceDirectories.Kind.PARQUET_PARTS) {
      traces.put(path.toString(), path);
      return;
    }
    Set<Path> arrowParts = new HashSet<>();
    if (kind.isTrace()) {
      traces.put(path.toString(), path);
    }
    if (kind == TraceDirectories.Kind.ARROW_PARTS) {
      arrowParts.add(path);
    }
    walk(path, excluded, null, traces, unlisted, arrowParts);
  }

  /** What a local directory is; a directory that cannot be listed is walked (and reported). */
  private static TraceDirectories.Kind kind(Path dir) {
    Path name = dir.getFileName();
    try {
      return TraceDirectories.kind(name == null ? "" : name.toString(), new LocalListing(dir));
    } catch (IOException | UncheckedIOException e) {
      return TraceDirectories.Kind.PLAIN;
    }
  }

  private static void glob(
      String argument,
      @Nullable Path excluded,
      Map<String, Path> traces,
      Map<String, Unlisted> unlisted,
      List<String> notes) {
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
    walk(base, excluded, matcher, traces, unlisted, new HashSet<>());
  }

  /**
   * Walks {@code root}. Without a matcher every trace name counts; with one, only paths it matches
   * count, and a matching directory is taken whole. The Arrow IPC files directly inside the
   * directories of {@code arrowParts} (and of the Arrow part directories the walk finds) are parts
   * of their directory's trace, not traces of their own.
   */
  private static void walk(
      Path root,
      @Nullable Path excluded,
      @Nullable PathMatcher matcher,
      Map<String, Path> traces,
      Map<String, Unlisted> unlisted,
      Set<Path> arrowParts) {
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
                directory(dir, excluded, traces, unlisted);
                return FileVisitResult.SKIP_SUBTREE;
              }
              if (matcher != null) {
                return FileVisitResult.CONTINUE;
              }
              TraceDirectories.Kind kind = kind(dir);
              switch (kind) {
                case PARQUET_PARTS -> {
                  traces.put(dir.toString(), dir);
                  return FileVisitResult.SKIP_SUBTREE;
                }
                case TENSORBOARD_RUN -> {
                  if (!isRoleDirectoryOfARun(dir)) {
                    traces.put(dir.toString(), dir);
                  }
                }
                case ARROW_PARTS -> {
                  traces.put(dir.toString(), dir);
                  arrowParts.add(dir);
                }
                case PLAIN -> {}
              }
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
              String name = file.getFileName().toString();
              boolean trace =
                  TraceNames.isTraceFile(name)
                      || (matcher != null && TensorBoardRun.isEventFileName(name));
              if (trace
                  && matcher == null
                  && arrowParts.contains(file.getParent())
                  && TraceDirectories.isArrowPart(name)) {
                return FileVisitResult.CONTINUE;
              }
              if (!attrs.isDirectory() && trace && (matcher == null || matcher.matches(file))) {
                traces.put(file.toString(), file);
              }
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
              if (!file.equals(excluded)
                  && !TraceNames.isHidden(name(file))
                  && (Files.isDirectory(file, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                      || TraceNames.isTraceFile(name(file)))) {
                unlisted.put(file.toString(), new Unlisted(file, reason(e)));
              }
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      unlisted.put(root.toString(), new Unlisted(root, reason(e)));
    }
  }

  private static String name(Path path) {
    Path name = path.getFileName();
    return name == null ? "" : name.toString();
  }

  /** Why a path could not be listed, without Java's exception names. */
  private static String reason(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "it vanished while the directory was walked";
    }
    if (e instanceof java.nio.file.FileSystemLoopException) {
      return "a loop of symbolic links";
    }
    String reason = e instanceof java.nio.file.FileSystemException fse ? fse.getReason() : null;
    if (reason == null) {
      reason = e.getMessage();
    }
    return reason == null ? "an I/O error" : reason;
  }

  /**
   * True for the train or validation subdirectory of a TensorBoard run (its event files are the
   * run's, so it is not a run of its own).
   */
  private static boolean isRoleDirectoryOfARun(Path dir) {
    Path parent = dir.getParent();
    return parent != null
        && TensorBoardRun.isRoleDirectory(dir)
        && kind(parent) == TraceDirectories.Kind.TENSORBOARD_RUN;
  }

  /** A local directory's listing, following symbolic links as the readers do. */
  private record LocalListing(Path dir) implements TraceDirectories.Listing {
    @Override
    public List<TraceDirectories.Entry> entries() throws IOException {
      return list(dir);
    }

    @Override
    public List<TraceDirectories.Entry> entries(String name) throws IOException {
      return list(dir.resolve(name));
    }

    private static List<TraceDirectories.Entry> list(Path dir) throws IOException {
      List<TraceDirectories.Entry> entries = new ArrayList<>();
      try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
        for (Path entry : stream) {
          entries.add(
              new TraceDirectories.Entry(
                  entry.getFileName().toString(),
                  Files.isDirectory(entry),
                  Files.isRegularFile(entry)));
        }
      }
      return entries;
    }
  }
}
