package io.dlanalyze.analyzer;

import static java.util.Objects.requireNonNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What was analysed: the trace's path and format, its size, its layers and phases, a subset of its
 * metadata, and anything odd met while reading.
 *
 * @param path the trace's path as given (a synthetic trace: {@code synthetic:<seed>})
 * @param format the format's display name ({@code parquet}, {@code csv}...)
 * @param rows rows read
 * @param steps distinct steps read
 * @param firstStep the first step, or -1 for an empty trace
 * @param lastStep the last step, or -1 for an empty trace
 * @param epochs distinct epochs read
 * @param layers the layers seen, by index
 * @param phases the phase names seen, known phases in contract order, then unknown ones
 * @param metadata the contract's metadata keys that are present, in contract order
 * @param truncated true when the file ended early (a crash mid-write)
 * @param stoppedAtStep the step reading stopped after (first-fault early exit), or -1
 * @param warnings non-fatal problems, in the order met
 */
public record TraceSummary(
    String path,
    String format,
    long rows,
    long steps,
    long firstStep,
    long lastStep,
    int epochs,
    List<Layer> layers,
    List<String> phases,
    Map<String, String> metadata,
    boolean truncated,
    long stoppedAtStep,
    List<String> warnings) {
  public TraceSummary {
    requireNonNull(path, "path is null");
    requireNonNull(format, "format is null");
    layers = List.copyOf(layers);
    phases = List.copyOf(phases);
    metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    warnings = List.copyOf(warnings);
  }
}
