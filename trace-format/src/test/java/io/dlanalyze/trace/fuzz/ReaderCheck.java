package io.dlanalyze.trace.fuzz;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import io.dlanalyze.trace.Limits;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads one fuzzer input through a reader and checks the invariants every reader keeps, whatever
 * the bytes:
 *
 * <ul>
 *   <li>the only exception is {@link TraceFormatException}, with an error code and a one-line
 *       message that names the file and contains no Java class name or exception text (an {@code
 *       OutOfMemoryError} fails the check too: the fuzz JVM runs with a small heap, so an
 *       allocation the input cannot justify shows up here);
 *   <li>what a reader returns is well formed: batch sizes within the batch capacity, string ids
 *       that exist in the trace's dictionary, names within {@link Limits#MAX_NAME_CHARS}, no null
 *       in a column the contract requires;
 *   <li>no result from data that failed validation: a reader that reports no truncation returns
 *       exactly the rows it announced ({@link TraceReader#totalRows()}), and a read that fails
 *       fails with an exception, never with a short or altered result.
 * </ul>
 */
final class ReaderCheck {
  /** Java names and exception texts that must not reach a user's one-line error. */
  private static final Pattern JAVA_TEXT =
      Pattern.compile(
          "\\b(?:java|javax|sun|jdk|org\\.apache|com\\.github|io\\.airlift)\\.[a-z]"
              + "|[A-Z][A-Za-z]+(?:Exception|Error)\\b|Cannot invoke|because \"|Input length ="
              + "|Socket is closed|Required field|can not read class|Struct:");

  private ReaderCheck() {}

  /** Runs the input through the format's reader in a fresh directory and checks it. */
  static void check(FuzzFormat format, byte[] input) {
    Path dir;
    try {
      dir = Files.createTempDirectory("fuzz");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try {
      Path trace = format.materialize(input, dir);
      read(format, trace);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      delete(dir);
    }
  }

  private static void read(FuzzFormat format, Path trace) {
    try (TraceReader reader = format.open(trace)) {
      TraceBatch batch = reader.batch();
      long rows = 0;
      while (reader.next()) {
        checkBatch(reader.dictionary(), batch);
        rows += batch.size();
      }
      require(
          rows == reader.rowsRead(), "rowsRead %d but %d rows returned", reader.rowsRead(), rows);
      if (!reader.truncated() && reader.totalRows() >= 0) {
        require(
            rows == reader.totalRows(),
            "%d rows announced but %d returned without a truncation",
            reader.totalRows(),
            rows);
      }
      for (String warning : reader.warnings()) {
        requireWords(warning, "warning");
      }
    } catch (TraceFormatException e) {
      require(e.code() != null, "no error code: %s", e.getMessage());
      require(
          e.getMessage().startsWith(trace.getParent().toString()),
          "the error does not name the file: %s",
          e.getMessage());
      requireWords(e.getMessage(), "error");
    }
  }

  private static void checkBatch(TraceDictionary dictionary, TraceBatch batch) {
    int n = batch.size();
    require(n >= 0 && n <= FuzzFormat.OPTIONS.batchRows(), "batch of %d rows", n);
    for (Column column : batch.columns()) {
      if (!column.isNullable()) {
        for (int i = 0; i < n; i++) {
          require(!batch.isNull(column, i), "null in required column %s", column.wireName());
        }
      }
      if (column.type() != ColumnType.STRING) {
        continue;
      }
      int[] ids = batch.ints(column);
      for (int i = 0; i < n; i++) {
        int id = ids[i];
        if (batch.isNull(column, i)) {
          continue;
        }
        String value =
            switch (column) {
              case LAYER_NAME -> dictionary.layerName(checkId(id, dictionary.layerNameCount()));
              case LAYER_TYPE -> dictionary.layerType(checkId(id, dictionary.layerTypeCount()));
              default -> {
                require(
                    id >= 0 && id < Phase.COUNT + dictionary.unknownPhaseNames().size(),
                    "phase code %d",
                    id);
                yield dictionary.phaseName(id);
              }
            };
        require(
            value.length() <= Limits.MAX_NAME_CHARS,
            "a %s of %d characters",
            column.wireName(),
            value.length());
      }
    }
  }

  private static int checkId(int id, int count) {
    require(id >= 0 && id < count, "string id %d of %d", id, count);
    return id;
  }

  private static void requireWords(String message, String what) {
    require(!message.contains("\n") && !message.contains("\r"), "%s on several lines", what);
    // values from the file are quoted ('...'): the fuzzer may put any text there
    String own = QUOTED.matcher(message).replaceAll("''");
    require(!JAVA_TEXT.matcher(own).find(), "Java text in the %s: %s", what, message);
  }

  private static final Pattern QUOTED = Pattern.compile("'[^']*'");

  private static void require(boolean ok, String problem, Object... args) {
    if (!ok) {
      throw new AssertionError(format(ROOT, problem, args));
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.toList()) {
        Files.deleteIfExists(file);
      }
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // a temporary directory left behind is not a finding
    }
  }
}
