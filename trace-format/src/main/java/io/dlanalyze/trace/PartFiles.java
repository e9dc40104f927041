package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The part files of a trace written as a directory ({@code part-00000.arrows}, {@code
 * part-00001.arrows}, ...): Parquet ({@code .parquet}), Arrow IPC stream ({@code .arrows}) or Arrow
 * IPC file ({@code .arrow}) parts, in name order, where runs of digits compare as numbers ({@code
 * part-9} before {@code part-10}, as pyarrow names them). Names starting with {@code .} or {@code
 * _} ({@code _SUCCESS}, {@code .part-0.parquet.crc}, a writer's temporary file) are not parts. A
 * directory that holds Parquet parts is read as Parquet whatever else it holds; Arrow parts must be
 * all streams or all files.
 */
public final class PartFiles {
  /** Name order with runs of digits compared as numbers; ties (leading zeros) by plain order. */
  public static final Comparator<Path> NAME_ORDER =
      (a, b) -> compareNames(a.getFileName().toString(), b.getFileName().toString());

  private PartFiles() {}

  /** The format of a part file by its extension, or null when the name is not a part's. */
  public static @Nullable TraceFormat formatOf(Path file) {
    Path name = file.getFileName();
    if (name == null) {
      return null;
    }
    String text = name.toString();
    if (text.startsWith(".") || text.startsWith("_")) {
      return null;
    }
    if (text.endsWith(".parquet")) {
      return TraceFormat.PARQUET;
    }
    if (text.endsWith(".arrows")) {
      return TraceFormat.ARROW_STREAM;
    }
    if (text.endsWith(".arrow")) {
      return TraceFormat.ARROW_FILE;
    }
    return null;
  }

  /** The format of a part {@link #list} returned: it lists only files named as parts. */
  public static TraceFormat formatOfListed(Path part) {
    return requireNonNull(formatOf(part), "a listed part is named as a part");
  }

  /**
   * The parts a directory holds now, in {@link #NAME_ORDER}: its Parquet parts when it has any,
   * else its Arrow parts; empty when it has none or does not exist.
   *
   * @throws TraceFormatException IO_ERROR when the directory cannot be listed, UNKNOWN_FORMAT when
   *     its Arrow parts mix streams and files
   */
  public static List<Path> list(Path directory) {
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
      for (Path entry : entries) {
        if (formatOf(entry) != null && Files.isRegularFile(entry)) {
          names.add(entry.getFileName().toString());
        }
      }
    } catch (NoSuchFileException e) {
      return List.of();
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR,
          directory,
          null,
          format(ROOT, "cannot list directory: %s", e.getMessage()),
          e);
    }
    List<Path> parts = new ArrayList<>();
    for (String name : select(directory, names)) {
      parts.add(directory.resolve(name));
    }
    return parts;
  }

  /**
   * The parts among the names of a directory's regular files, by the rules of {@link #list}, in
   * {@link #NAME_ORDER}: for a listing made on another file system (the Spark job's Hadoop walk).
   *
   * @param directory the directory, for the error message
   * @throws TraceFormatException UNKNOWN_FORMAT when its Arrow parts mix streams and files
   */
  public static List<String> select(Path directory, List<String> fileNames) {
    List<String> parquet = new ArrayList<>();
    List<String> streams = new ArrayList<>();
    List<String> files = new ArrayList<>();
    for (String name : fileNames) {
      TraceFormat format = formatOf(Path.of(name));
      if (format == null) {
        continue;
      }
      switch (format) {
        case PARQUET -> parquet.add(name);
        case ARROW_STREAM -> streams.add(name);
        default -> files.add(name);
      }
    }
    List<String> parts = !parquet.isEmpty() ? parquet : !streams.isEmpty() ? streams : files;
    if (parquet.isEmpty() && !streams.isEmpty() && !files.isEmpty()) {
      throw new TraceFormatException(
          ErrorCode.UNKNOWN_FORMAT,
          directory,
          null,
          format(
              ROOT,
              "the directory mixes Arrow IPC stream parts (%s) and Arrow IPC file parts (%s):"
                  + " the parts of one trace must have one format",
              streams.get(0),
              files.get(0)));
    }
    parts.sort((a, b) -> compareNames(a, b));
    return parts;
  }

  /** True when a directory holds Arrow parts and no Parquet parts (see {@link #list}). */
  public static boolean hasArrowParts(Path directory) {
    List<Path> parts = list(directory);
    return !parts.isEmpty() && formatOf(parts.get(0)) != TraceFormat.PARQUET;
  }

  /** Compares two names with runs of ASCII digits compared by value, then by plain order. */
  static int compareNames(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      char x = a.charAt(i);
      char y = b.charAt(j);
      if (isDigit(x) && isDigit(y)) {
        int endA = digitsEnd(a, i);
        int endB = digitsEnd(b, j);
        int byValue = compareDigits(a.substring(i, endA), b.substring(j, endB));
        if (byValue != 0) {
          return byValue;
        }
        i = endA;
        j = endB;
      } else {
        if (x != y) {
          return Character.compare(x, y);
        }
        i++;
        j++;
      }
    }
    int byLength = Integer.compare(a.length() - i, b.length() - j);
    return byLength != 0 ? byLength : a.compareTo(b);
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static int digitsEnd(String s, int from) {
    int end = from;
    while (end < s.length() && isDigit(s.charAt(end))) {
      end++;
    }
    return end;
  }

  /** Compares two runs of digits by value, however long (no overflow). */
  private static int compareDigits(String a, String b) {
    String x = a.replaceFirst("^0+(?=.)", "");
    String y = b.replaceFirst("^0+(?=.)", "");
    return x.length() != y.length() ? Integer.compare(x.length(), y.length()) : x.compareTo(y);
  }
}
