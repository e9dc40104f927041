package io.dlanalyze.trace.csv;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.Limits;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The metadata sidecar of a CSV trace: one JSON object of key-value pairs. The sidecar of {@code
 * run.csv} is {@code run.csv.meta.json} (what the writer writes); {@code run.meta.json} is also
 * read when the first does not exist.
 */
public final class CsvSidecar {
  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Reads one JSON value and nothing after it: trailing text is an error, not ignored. */
  private static final ObjectMapper READER =
      new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The largest sidecar read: the largest {@code dltrace.layers} plus room for the rest. */
  static final long MAX_SIDECAR_BYTES = 2L * Limits.MAX_LAYERS_JSON_CHARS;

  private CsvSidecar() {}

  /** The sidecar the writer writes and the reader looks for first: {@code run.csv.meta.json}. */
  public static Path path(Path csv) {
    return csv.resolveSibling(csv.getFileName() + ".meta.json");
  }

  /** The alternative name: {@code run.meta.json} for {@code run.csv}, or {@code null}. */
  public static @Nullable Path alternatePath(Path csv) {
    String name = csv.getFileName().toString();
    if (!name.toLowerCase(Locale.ROOT).endsWith(".csv") || name.length() == 4) {
      return null;
    }
    return csv.resolveSibling(name.substring(0, name.length() - 4) + ".meta.json");
  }

  /** Reads the sidecar of {@code csv}; a missing one gives empty metadata and a warning. */
  static TraceMetadata read(Path csv, List<String> warnings) {
    Path primary = path(csv);
    Path alternate = alternatePath(csv);
    for (Path candidate : new Path[] {primary, alternate}) {
      if (candidate != null && Files.exists(candidate) && !Files.isRegularFile(candidate)) {
        throw new TraceFormatException(
            ErrorCode.BAD_METADATA,
            candidate,
            null,
            "not a file: the CSV trace's metadata must be a JSON file");
      }
    }
    Path chosen;
    if (Files.isRegularFile(primary)) {
      chosen = primary;
      if (alternate != null && Files.isRegularFile(alternate)) {
        warnings.add(
            format(
                ROOT,
                "metadata: %s is ignored, %s takes precedence",
                alternate.getFileName(),
                primary.getFileName()));
      }
    } else if (alternate != null && Files.isRegularFile(alternate)) {
      chosen = alternate;
    } else {
      warnings.add(
          format(
              ROOT,
              "no metadata: %s does not exist%s; the metadata is empty",
              primary.getFileName(),
              alternate == null ? "" : " (nor " + alternate.getFileName() + ")"));
      return TraceMetadata.empty();
    }
    JsonNode root;
    try {
      root = READER.readTree(utf8(chosen));
    } catch (JsonProcessingException e) {
      String problem = TraceMetadata.jsonProblem(e.getOriginalMessage());
      if (problem.startsWith("Trailing token")) {
        problem =
            e.getLocation() == null
                ? "text after the end of the JSON object"
                : format(
                    ROOT,
                    "text after the end of the JSON object, at line %d, column %d",
                    e.getLocation().getLineNr(),
                    e.getLocation().getColumnNr());
      }
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA, chosen, null, format(ROOT, "not valid JSON: %s", problem), e);
    } catch (IOException e) {
      throw new TraceFormatException(
          ErrorCode.IO_ERROR, chosen, null, format(ROOT, "cannot read: %s", e.getMessage()), e);
    }
    if (root == null || !root.isObject()) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA,
          chosen,
          null,
          "must hold one JSON object of metadata keys and values");
    }
    Map<String, String> values = new LinkedHashMap<>();
    Iterator<Map.Entry<String, JsonNode>> fields = root.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      JsonNode value = field.getValue();
      if (value.isNull()) {
        continue;
      }
      // Strings as they are; a number, array or object (e.g. dltrace.layers written as a real
      // JSON array) as its JSON text.
      values.put(field.getKey(), value.isTextual() ? value.textValue() : value.toString());
    }
    try {
      return TraceMetadata.of(values);
    } catch (IllegalArgumentException e) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA, chosen, null, TraceMetadata.problem(e), e);
    }
  }

  /**
   * The sidecar's text, checked to be UTF-8 (a UTF-8 byte order mark is skipped): its bytes as a
   * string, or BAD_METADATA naming the first byte that is not UTF-8.
   */
  private static String utf8(Path sidecar) throws IOException {
    long size = Files.size(sidecar);
    if (size > MAX_SIDECAR_BYTES) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA,
          sidecar,
          null,
          format(
              ROOT,
              "the sidecar is %d bytes, more than the limit of %d MiB",
              size,
              MAX_SIDECAR_BYTES >> 20));
    }
    byte[] bytes = Files.readAllBytes(sidecar);
    int start =
        bytes.length >= 3
                && bytes[0] == (byte) 0xEF
                && bytes[1] == (byte) 0xBB
                && bytes[2] == (byte) 0xBF
            ? 3
            : 0;
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes, start, bytes.length - start);
    CharBuffer out = CharBuffer.allocate((int) Math.min(Integer.MAX_VALUE - 8L, bytes.length));
    CoderResult result = decoder.decode(in, out, true);
    if (result.isError()) {
      throw new TraceFormatException(
          ErrorCode.BAD_METADATA,
          sidecar,
          null,
          format(
              ROOT,
              "not UTF-8 text: the byte at offset %d (0x%02x) is not valid UTF-8; save the"
                  + " sidecar as UTF-8",
              in.position(),
              bytes[in.position()] & 0xFF));
    }
    decoder.flush(out);
    return out.flip().toString();
  }

  /** The sidecar text: every value as a JSON string, so any metadata round-trips exactly. */
  static String render(TraceMetadata metadata) {
    ObjectNode root = JSON.createObjectNode();
    for (Map.Entry<String, String> entry : metadata.asMap().entrySet()) {
      root.put(entry.getKey(), entry.getValue());
    }
    try {
      return JSON.writeValueAsString(root) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot render metadata", e);
    }
  }
}
