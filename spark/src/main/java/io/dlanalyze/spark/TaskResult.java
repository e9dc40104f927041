package io.dlanalyze.spark;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.batch.FindingRow;
import io.dlanalyze.batch.RunRow;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What a task sends back to the driver: the rows of an analysed trace, or only that it was skipped
 * (the driver holds the previous rows).
 */
record TaskResult(String path, boolean skipped, @Nullable RunRow run, List<FindingRow> findings)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  TaskResult {
    requireNonNull(path, "path is null");
    // An ArrayList, not List.copyOf: Spark may serialize with Kryo, which handles it.
    findings = new ArrayList<>(findings);
  }

  static TaskResult skipped(String path) {
    return new TaskResult(path, true, null, List.of());
  }
}
