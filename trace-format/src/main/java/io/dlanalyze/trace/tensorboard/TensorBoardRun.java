package io.dlanalyze.trace.tensorboard;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Which files make up one TensorBoard run, by name only:
 *
 * <ul>
 *   <li>an event file is a file whose name contains {@code tfevents} ({@code
 *       events.out.tfevents.1700000000.host.123.0.v2}) and does not start with {@code .};
 *   <li>a run directory holds event files itself, or in subdirectories named {@code train} or
 *       {@code training}, and {@code validation}, {@code val}, {@code valid}, {@code eval} or
 *       {@code evaluation} (the layout of Keras' TensorBoard callback: {@code logs/train} and
 *       {@code logs/validation}); other subdirectories are not part of the run;
 *   <li>the files of a validation directory hold validation metrics: their {@code loss} and {@code
 *       accuracy} become {@code val_loss} and {@code val_accuracy};
 *   <li>an event file named on its own is the whole run (its directory's other files are not read).
 * </ul>
 *
 * <p>Within a directory, event files are read in name order, which is the order they were started
 * in (the name holds the start time in seconds).
 */
public final class TensorBoardRun {
  /** The tag mapping file, looked up in the run directory and its parents (nearest wins). */
  public static final String TAGS_FILE = "dl-analyze-tags.json";

  private static final Set<String> TRAIN_DIRS = Set.of("train", "training");
  private static final Set<String> VALIDATION_DIRS =
      Set.of("validation", "val", "valid", "eval", "evaluation");

  private TensorBoardRun() {}

  /**
   * One event file of a run.
   *
   * @param path the file
   * @param name its path relative to the run directory ({@code train/events.out...}), for messages
   *     and fingerprints
   * @param validation true for a file of a validation directory
   */
  public record EventFile(Path path, String name, boolean validation) {}

  /** True for the name of a TensorBoard event file. */
  public static boolean isEventFileName(String name) {
    return !name.isEmpty() && !name.startsWith(".") && name.contains("tfevents");
  }

  /**
   * True when the first bytes of a file are a TFRecord header whose length checksum is right (an
   * event file under another name).
   */
  public static boolean looksLikeEventFile(byte[] head, int n) {
    return TfRecordReader.looksLikeRecordHeader(head, n);
  }

  /**
   * True when {@code dir} is a directory holding event files itself or in its role subdirectories.
   */
  public static boolean isRunDirectory(Path dir) {
    if (!Files.isDirectory(dir)) {
      return false;
    }
    try {
      if (hasEventFiles(dir)) {
        return true;
      }
      for (Path sub : roleDirectories(dir)) {
        if (hasEventFiles(sub)) {
          return true;
        }
      }
      return false;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * The event files of a run: the file itself, or those of a run directory (its own first, then its
   * train directories', then its validation directories').
   *
   * @throws TraceFormatException IO_ERROR when a directory cannot be listed
   */
  public static List<EventFile> eventFiles(Path path) {
    List<EventFile> files = new ArrayList<>();
    if (!Files.isDirectory(path)) {
      Path parent = path.getParent();
      boolean validation = parent != null && isValidationName(parent);
      Path name = path.getFileName();
      files.add(new EventFile(path, name == null ? path.toString() : name.toString(), validation));
      return files;
    }
    try {
      boolean validation = isValidationName(path);
      for (Path file : sortedEventFiles(path)) {
        files.add(new EventFile(file, file.getFileName().toString(), validation));
      }
      List<Path> roles = roleDirectories(path);
      for (boolean validationRole : new boolean[] {false, true}) {
        for (Path sub : roles) {
          if (isValidationName(sub) != validationRole) {
            continue;
          }
          for (Path file : sortedEventFiles(sub)) {
            files.add(
                new EventFile(file, sub.getFileName() + "/" + file.getFileName(), validationRole));
          }
        }
      }
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          path,
          null,
          format(ROOT, "cannot list the run directory: %s", e.getMessage()),
          e);
    }
    return files;
  }

  /**
   * The tag mapping file that applies to a run: {@value #TAGS_FILE} in the run directory (the event
   * file's directory for a single file) or the nearest parent directory that has one.
   */
  public static Optional<Path> tagsFile(Path run) {
    Path dir = Files.isDirectory(run) ? run : run.toAbsolutePath().getParent();
    for (Path at = dir == null ? null : dir.toAbsolutePath(); at != null; at = at.getParent()) {
      Path candidate = at.resolve(TAGS_FILE);
      if (Files.exists(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  /** True for a train or validation subdirectory name ({@code train}, {@code validation}...). */
  public static boolean isRoleDirectory(Path dir) {
    Path name = dir.getFileName();
    if (name == null) {
      return false;
    }
    return isRoleName(name.toString());
  }

  /**
   * True for the name of a train or validation subdirectory ({@code train}, {@code validation}...),
   * whatever its case: the subdirectories whose event files belong to the run above them.
   */
  public static boolean isRoleName(String name) {
    String lower = name.toLowerCase(Locale.ROOT);
    return TRAIN_DIRS.contains(lower) || VALIDATION_DIRS.contains(lower);
  }

  private static boolean isValidationName(Path dir) {
    Path name = dir.getFileName();
    return name != null && VALIDATION_DIRS.contains(name.toString().toLowerCase(Locale.ROOT));
  }

  private static boolean hasEventFiles(Path dir) throws IOException {
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
      for (Path file : stream) {
        if (isEventFileName(file.getFileName().toString()) && Files.isRegularFile(file)) {
          return true;
        }
      }
    }
    return false;
  }

  private static List<Path> sortedEventFiles(Path dir) throws IOException {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
      for (Path file : stream) {
        if (isEventFileName(file.getFileName().toString()) && Files.isRegularFile(file)) {
          files.add(file);
        }
      }
    }
    files.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
    return files;
  }

  /** The train and validation subdirectories, in name order. */
  private static List<Path> roleDirectories(Path dir) throws IOException {
    List<Path> subs = new ArrayList<>();
    try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir)) {
      for (Path sub : stream) {
        if (isRoleName(sub.getFileName().toString()) && Files.isDirectory(sub)) {
          subs.add(sub);
        }
      }
    }
    subs.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
    return subs;
  }
}
