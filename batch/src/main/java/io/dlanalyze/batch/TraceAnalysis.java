package io.dlanalyze.batch;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.DetectorInfo;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.RootCause;
import io.dlanalyze.analyzer.report.EvidenceJson;
import io.dlanalyze.analyzer.report.ReportStory;
import io.dlanalyze.trace.InputFiles;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReaders;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * One trace analysed and turned into table rows: the code both the local batch and each Spark task
 * run, so both produce the same rows. A failure never escapes: it becomes a row with status error,
 * an error code and a one-line message. Thread-safe.
 */
public final class TraceAnalysis {
  private static final JsonFactory JSON = new JsonFactory();

  private final Analyzer analyzer = new Analyzer();
  private final AnalysisOptions options;
  private final String config;

  public TraceAnalysis(AnalysisSettings settings) {
    this.options = requireNonNull(settings, "settings is null").options();
    this.config = configOf(analyzer, options, settings.config());
  }

  /** A trace's analysis: its runs row and its findings rows in rank order. */
  public record Result(RunRow run, List<FindingRow> findings) {
    public Result {
      requireNonNull(run, "run is null");
      findings = List.copyOf(findings);
    }
  }

  /**
   * The analysis configuration, kept in every row: a trace is re-analysed when it changes, and also
   * when this changes (another dl-analyze version, mode, detector set or threshold, or the text of
   * the config file). For example {@code dl-analyze 0.1.0; mode=default; detectors=numerical-error;
   * thresholds=sha256:1f2e3d4c5b6a}, followed by {@code ; config=sha256:7a8b9c0d1e2f} (the SHA-256
   * of the config file's text) when there is one.
   */
  public String config() {
    return config;
  }

  /**
   * Analyses a trace.
   *
   * @param local where the trace can be read on this machine
   * @param path the trace's name in the results (the same as {@code local} for the local batch; the
   *     original URI when a Spark task analyses a local copy); error messages name it
   * @param fingerprint the trace's fingerprint, computed before the analysis
   */
  public Result analyze(Path local, String path, Fingerprint fingerprint) {
    long start = System.nanoTime();
    try {
      // a named pipe or a device would block or never end: refused before anything opens it
      InputFiles.requireReadable(local);
      Report report = analyzer.analyze(local, options);
      long millis = (System.nanoTime() - start) / 1_000_000;
      return rows(report, path, fingerprint, millis);
    } catch (TraceFormatException e) {
      return failed(
          local, path, fingerprint, e.code().name().toLowerCase(ROOT), e.getMessage(), start);
    } catch (OutOfMemoryError e) {
      return failed(
          local,
          path,
          fingerprint,
          OUT_OF_MEMORY,
          format(
              ROOT,
              "%s: out of memory with a heap of %d MB (a trace with very many layers, or very"
                  + " large row groups); run with a larger heap (DL_ANALYZE_JAVA_OPTS=%s) or"
                  + " fewer --jobs",
              local,
              Runtime.getRuntime().maxMemory() >> 20,
              HeapAdvice.larger(Runtime.getRuntime().maxMemory())),
          start);
    } catch (StackOverflowError e) {
      return failed(
          local,
          path,
          fingerprint,
          INTERNAL,
          local + ": internal error (a bug in dl-analyze): the analysis ran out of stack",
          start);
    } catch (RuntimeException e) {
      return failed(
          local,
          path,
          fingerprint,
          INTERNAL,
          local + ": internal error (a bug in dl-analyze): " + inWords(e),
          start);
    }
  }

  /** The error code of a trace whose analysis ran out of memory. */
  public static final String OUT_OF_MEMORY = "out_of_memory";

  /** The error code of a bug met while analysing a trace. */
  public static final String INTERNAL = "internal";

  /**
   * The row of a path that could not even be listed (a directory without read permission): an error
   * row with code {@code io_error}, so the batch counts what it may have missed there as
   * unreadable.
   */
  public Result unlisted(Path local, String path, String reason) {
    long modified = 0;
    try {
      modified = java.nio.file.Files.getLastModifiedTime(local).toMillis();
    } catch (java.io.IOException | RuntimeException e) {
      // unknown
    }
    RunRow row =
        RunRow.error(
            path,
            null,
            Fingerprint.unavailable(0, modified),
            config,
            "io_error",
            oneLine(format(ROOT, "%s: cannot be listed: %s", local, reason), local, path),
            0,
            System.currentTimeMillis());
    return new Result(row, List.of());
  }

  /**
   * What went wrong, in words: the exception's message with Java class names shortened to their
   * simple names ({@code java.lang.IllegalStateException} to {@code IllegalStateException}), or a
   * plain phrase when it has none.
   */
  static String inWords(Throwable e) {
    String message = e.getMessage();
    if (message == null || message.isBlank()) {
      return "an unexpected failure; dl-analyze analyze TRACE --verbose shows where";
    }
    return QUALIFIED_NAME.matcher(message).replaceAll("$1");
  }

  private static final java.util.regex.Pattern QUALIFIED_NAME =
      java.util.regex.Pattern.compile("\\b(?:[a-z_][a-z0-9_]*\\.)+([A-Z][A-Za-z0-9_$]*)");

  private Result failed(
      Path local, String path, Fingerprint fingerprint, String code, String message, long start) {
    long millis = (System.nanoTime() - start) / 1_000_000;
    String format = null;
    if (InputFiles.isFileOrDirectory(local)) {
      try {
        format = TraceReaders.detect(local).displayName();
      } catch (RuntimeException e) {
        format = null;
      }
    }
    RunRow row =
        RunRow.error(
            path,
            format,
            fingerprint,
            config,
            code,
            oneLine(message, local, path),
            millis,
            System.currentTimeMillis());
    return new Result(row, List.of());
  }

  private Result rows(Report report, String path, Fingerprint fingerprint, long millis) {
    int[] bySeverity = new int[4];
    List<FindingRow> findings = new ArrayList<>(report.findings().size());
    int rank = 0;
    for (Finding finding : report.findings()) {
      rank++;
      bySeverity[finding.severity().ordinal()]++;
      findings.add(
          new FindingRow(
              path,
              rank,
              finding.detector(),
              finding.symptom().wireName(),
              finding.severity().wireName(),
              finding.layerIndex(),
              finding.resolvedLayerName(),
              finding.layerType(),
              finding.phase().wireName(),
              finding.firstStep(),
              finding.lastStep(),
              finding.epoch(),
              finding.batch(),
              finding.occurrences(),
              finding.consequences().size(),
              finding.message(),
              finding.suggestedFix(),
              evidenceJson(finding)));
    }
    RootCause root = report.rootCause();
    // top_* is the finding the root cause rests on, as every report leads with it
    Finding top = ReportStory.of(report).leading().orElse(null);
    RunRow row =
        new RunRow(
            path,
            report.trace().format(),
            fingerprint,
            config,
            RunStatus.OK,
            null,
            null,
            report.verdict().wireName(),
            report.verdictReason(),
            root == null ? null : root.scope(),
            root == null ? null : root.layerIndex(),
            root == null ? null : root.layerName(),
            root == null ? null : root.cause(),
            root == null ? null : root.suggestedFix(),
            top == null ? null : top.detector(),
            top == null ? null : top.symptom().wireName(),
            top == null ? null : top.severity().wireName(),
            top == null ? null : top.layerIndex(),
            top == null ? null : top.layerName(),
            top == null ? null : top.phase().wireName(),
            top == null ? null : top.firstStep(),
            findings.size(),
            bySeverity[0],
            bySeverity[1],
            bySeverity[2],
            bySeverity[3],
            report.trace().rows(),
            report.trace().steps(),
            report.trace().truncated(),
            report.trace().warnings().size(),
            report.trace().metadata().get(TraceMetadata.RUN_ID),
            millis,
            System.currentTimeMillis());
    return new Result(row, findings);
  }

  /**
   * The message on one line, naming {@code path} instead of a local copy: a Spark task that copied
   * {@code hdfs://.../run.arrows} to a temporary file reports the original name.
   */
  static String oneLine(String message, Path local, String path) {
    String text = message == null ? "" : message;
    String localName = local.toString();
    if (!localName.equals(path)) {
      text = text.replace(localName, path);
    }
    return text.replaceAll("\\s*[\\r\\n]+\\s*", " ").strip();
  }

  private static String evidenceJson(Finding finding) {
    StringWriter out = new StringWriter();
    try (JsonGenerator json = JSON.createGenerator(out)) {
      json.writeStartObject();
      EvidenceJson.writeFields(json, finding.evidence());
      json.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  private static String configOf(
      Analyzer analyzer, AnalysisOptions options, AnalysisSettings.@Nullable ConfigFile file) {
    List<String> ids = new ArrayList<>();
    for (DetectorInfo info : analyzer.detectorsFor(options)) {
      ids.add(info.id());
    }
    StringBuilder thresholds = new StringBuilder();
    for (Map.Entry<String, Double> entry : options.effectiveThresholds().entrySet()) {
      thresholds.append(entry.getKey()).append('=').append(entry.getValue()).append('\n');
    }
    return "dl-analyze "
        + BatchVersion.get()
        + "; mode="
        + options.mode().wireName()
        + "; detectors="
        + String.join(",", ids)
        + "; thresholds=sha256:"
        + sha256(thresholds.toString()).substring(0, 12)
        + (file == null ? "" : "; config=sha256:" + sha256(file.content()).substring(0, 12));
  }

  private static String sha256(String text) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(digest.digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK has no SHA-256", e);
    }
  }
}
