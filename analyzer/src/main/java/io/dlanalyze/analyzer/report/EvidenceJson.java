package io.dlanalyze.analyzer.report;

import com.fasterxml.jackson.core.JsonGenerator;
import io.dlanalyze.analyzer.Evidence;
import io.dlanalyze.analyzer.text.Numbers;
import java.io.IOException;
import java.util.Map;

/**
 * A finding's evidence as JSON, the same in the JSON report and the batch results tables: numbers
 * with six significant digits ({@link Numbers#precise}), NaN and Inf as strings, booleans and
 * strings as they are.
 */
public final class EvidenceJson {
  private EvidenceJson() {}

  /** Writes the evidence's fields into the current JSON object, in insertion order. */
  public static void writeFields(JsonGenerator json, Evidence evidence) throws IOException {
    for (Map.Entry<String, Object> entry : evidence.asMap().entrySet()) {
      json.writeFieldName(entry.getKey());
      Object value = entry.getValue();
      if (value instanceof Double d) {
        if (Double.isFinite(d)) {
          json.writeNumber(Numbers.precise(d));
        } else {
          json.writeString(Numbers.precise(d));
        }
      } else if (value instanceof Long l) {
        json.writeNumber(l);
      } else if (value instanceof Boolean b) {
        json.writeBoolean(b);
      } else {
        json.writeString(String.valueOf(value));
      }
    }
  }
}
