package io.dlanalyze.spark;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.batch.Fingerprint;
import java.io.Serializable;
import org.jspecify.annotations.Nullable;

/**
 * One Spark task: a trace to fingerprint and, unless it is unchanged, analyse.
 *
 * @param uri the trace's fully qualified URI
 * @param path its name in the results ({@link HadoopTraces#displayPath})
 * @param previousFingerprint its fingerprint in the previous results, or {@code null}
 * @param previousConfig the analysis configuration of its previous row, or {@code null}
 */
record TraceTask(
    String uri,
    String path,
    @Nullable Fingerprint previousFingerprint,
    @Nullable String previousConfig)
    implements Serializable {
  private static final long serialVersionUID = 1L;

  TraceTask {
    requireNonNull(uri, "uri is null");
    requireNonNull(path, "path is null");
  }
}
