package io.dlanalyze.trace;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Error texts of third-party decoders (parquet-mr, Thrift, Arrow Java, the codecs) in the user's
 * terms, for the one-line messages of {@link TraceFormatException}: the messages of Java
 * programming errors raised while decoding damaged bytes (a null pointer, an index out of bounds)
 * are left out, qualified class names are shortened, and Thrift's "can not read class X: Required
 * field 'y'" becomes "field 'y' is missing".
 */
public final class ReadErrors {
  private static final Pattern OBJECT_ID = Pattern.compile(" ?Struct: \\S+@[0-9a-f]+");

  /** A package-qualified Java class name such as org.apache.parquet.format.FileMetaData. */
  private static final Pattern QUALIFIED_NAME =
      Pattern.compile("\\b(?:[a-z][a-z0-9_]*\\.){2,}([A-Z][A-Za-z0-9_$]*)");

  /**
   * Thrift's "can not read class org.apache.parquet.format.FileMetaData: " prefix, and
   * parquet-format's "can not read FileMetaData: ".
   */
  private static final Pattern THRIFT_CLASS =
      Pattern.compile(
          "(?i)can ?not read (?:class )?(?:[A-Za-z0-9_$]+\\.)*((?-i)[A-Z][A-Za-z0-9_$]*): ?");

  /** Thrift's limit on what one footer or page header may hold (100 MiB by default). */
  private static final Pattern SIZE_LIMIT =
      Pattern.compile("(?i)Message size exceeds limit: (\\d+)");

  /** Thrift's compact protocol on a field type byte it does not know. */
  private static final Pattern UNKNOWN_TYPE = Pattern.compile("don't know what type: (-?\\d+)");

  private static final Pattern CAMEL = Pattern.compile("(?<=[a-z])(?=[A-Z])");

  private static final Pattern REQUIRED_FIELD =
      Pattern.compile("Required field '([^']+)' was not found in serialized data!?");

  /** Words that only a Java programmer can read. */
  private static final Pattern JAVA_WORDS =
      Pattern.compile(
          "(?i)\\b(?:java|javax|sun|jdk)\\.[a-z]|[A-Za-z]+(?:Exception|Error)\\b|Cannot invoke|"
              + "\\bnull\\b|Socket|because \"");

  private ReadErrors() {}

  /**
   * The messages of an exception and its causes, de-duplicated, on one line, in the user's terms;
   * {@code fallback} when nothing is left.
   */
  public static String describe(Throwable error, String fallback) {
    StringBuilder text = new StringBuilder();
    String last = null;
    for (Throwable t = error; t != null && t.getCause() != t; t = t.getCause()) {
      if (t.getMessage() == null
          || isProgrammingError(t)
          || t.getCause() != null && t.getMessage().equals(t.getCause().toString())) {
        // no text of its own, a bug's text, or only the text of its cause (which follows)
        continue;
      }
      String message = t.getMessage();
      if (last != null && last.contains(message)) {
        continue;
      }
      String shown = words(message);
      last = message;
      if (shown.isEmpty()) {
        continue;
      }
      if (text.length() > 0) {
        text.append(": ");
      }
      text.append(shown);
    }
    return text.length() == 0 ? fallback : text.toString();
  }

  /** {@link #describe(Throwable, String)} with "the data cannot be decoded" as the fallback. */
  public static String describe(Throwable error) {
    return describe(error, "the data cannot be decoded");
  }

  /** One message in the user's terms, or "" when nothing of it is for the user. */
  static String words(String message) {
    // Thrift appends "Struct: ...StandardScheme@1b2c3d" to its messages: noise for the user.
    String shown = OBJECT_ID.matcher(message.replace('\n', ' ').replace('\r', ' ')).replaceAll("");
    java.util.regex.Matcher thrift = THRIFT_CLASS.matcher(shown);
    if (thrift.find()) {
      String what =
          switch (thrift.group(1)) {
            case "FileMetaData" -> "footer";
            case "PageHeader" -> "page header";
            default -> CAMEL.matcher(thrift.group(1)).replaceAll(" ").toLowerCase(Locale.ROOT);
          };
      shown =
          thrift.replaceFirst(
              java.util.regex.Matcher.quoteReplacement("cannot decode the " + what + ": "));
    }
    shown = REQUIRED_FIELD.matcher(shown).replaceAll("field '$1' is missing");
    shown = UNKNOWN_TYPE.matcher(shown).replaceAll("a field of unknown type $1");
    shown =
        SIZE_LIMIT
            .matcher(shown)
            .replaceAll("it holds more than the decoder's limit of $1 bytes (a damaged length?)");
    shown = QUALIFIED_NAME.matcher(shown).replaceAll("$1").strip();
    if (JAVA_WORDS.matcher(shown).find()) {
      return "";
    }
    if (shown.length() > 200) {
      shown = shown.substring(0, 197) + "...";
    }
    return shown;
  }

  /** True for the errors a decoder raises on bytes it did not expect, not on a user's mistake. */
  public static boolean isProgrammingError(Throwable t) {
    return t instanceof NullPointerException
        || t instanceof ClassCastException
        || t instanceof IndexOutOfBoundsException
        || t instanceof NegativeArraySizeException
        || t instanceof ArithmeticException
        || t instanceof ArrayStoreException
        || t instanceof IllegalStateException
        || t instanceof UnsupportedOperationException && t.getMessage() == null
        || t instanceof java.nio.BufferUnderflowException
        || t instanceof java.nio.BufferOverflowException
        || t instanceof StackOverflowError;
  }
}
