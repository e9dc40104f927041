package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.engine.AnalysisEngine;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The analyzer's entry point: runs the detectors of a mode over a trace in one pass and returns the
 * ranked {@link Report}. Stateless and thread-safe; one instance can analyse many traces, also
 * concurrently (each call makes its own detector instances).
 *
 * <pre>{@code
 * Report report = new Analyzer().analyze(Path.of("run.parquet"), AnalysisOptions.defaults());
 * if (report.fails(options)) { ... }
 * }</pre>
 */
public final class Analyzer {
  private final List<DetectorInfo> registry;

  /** An analyzer with the {@link BuiltInDetectors}. */
  public Analyzer() {
    this(BuiltInDetectors.all());
  }

  /** An analyzer with these detectors (for instance the built-in ones plus a plug-in's). */
  public Analyzer(List<DetectorInfo> registry) {
    this.registry = List.copyOf(registry);
    List<String> ids = new ArrayList<>();
    for (DetectorInfo info : this.registry) {
      if (ids.contains(info.id())) {
        throw new IllegalArgumentException(
            format(ROOT, "detector id %s is registered twice", info.id()));
      }
      ids.add(info.id());
    }
  }

  /** Every registered detector, both modes, in registry order. */
  public List<DetectorInfo> registry() {
    return registry;
  }

  /**
   * The detectors that run with these options: those of the options' mode, minus the disabled ones,
   * restricted to the enabled ones when a list was given.
   *
   * @throws IllegalArgumentException when the options name a detector that is not registered
   */
  public List<DetectorInfo> detectorsFor(AnalysisOptions options) {
    for (String id : options.namedDetectors()) {
      boolean known = false;
      for (DetectorInfo info : registry) {
        known |= info.id().equals(id);
      }
      if (!known) {
        List<String> ids = new ArrayList<>();
        for (DetectorInfo info : registry) {
          ids.add(info.id());
        }
        throw new IllegalArgumentException(
            format(ROOT, "unknown detector: %s (known: %s)", id, String.join(", ", ids)));
      }
    }
    List<DetectorInfo> selected = new ArrayList<>();
    for (DetectorInfo info : registry) {
      if (info.runsIn(options.mode()) && options.isEnabled(info.id())) {
        selected.add(info);
      }
    }
    return selected;
  }

  /** The columns a reader must load for an analysis with these options. */
  public Set<Column> projection(AnalysisOptions options) {
    return AnalysisEngine.projection(detectorsFor(options));
  }

  /**
   * Analyses a trace that is already open. The reader should load at least {@link
   * #projection(AnalysisOptions)} (columns it does not load read as null); it is read to the end
   * (or the first fault with {@link AnalysisOptions#firstFault()}) and not closed.
   *
   * @throws TraceFormatException when the trace is unreadable or breaks the contract
   */
  public Report analyze(TraceReader reader, AnalysisOptions options) {
    return AnalysisEngine.run(reader, options, detectorsFor(options));
  }

  /**
   * Analyses a trace that is still being written (see {@link AnalysisListener}): the listener hears
   * of every completed step and of each detector's first findings as they come, and can stop the
   * reading. The report is the one {@link #analyze(TraceReader, AnalysisOptions)} makes of the same
   * rows. The reader is not closed.
   *
   * @throws TraceFormatException when the trace is unreadable or breaks the contract
   */
  public Report analyze(TraceReader reader, AnalysisOptions options, AnalysisListener listener) {
    return AnalysisEngine.run(reader, options, detectorsFor(options), listener);
  }

  /**
   * Opens a trace of any format {@link TraceReaders} reads, loading only the columns the enabled
   * detectors need, analyses it and closes it.
   *
   * @throws TraceFormatException when the trace is missing, unreadable or breaks the contract
   */
  public Report analyze(Path trace, AnalysisOptions options) {
    List<DetectorInfo> detectors = detectorsFor(options);
    ReadOptions read =
        new ReadOptions(
            AnalysisEngine.projection(detectors), options.readBatchRows(), options.decodeThreads());
    try (TraceReader reader = TraceReaders.open(trace, read)) {
      return AnalysisEngine.run(reader, options, detectors);
    }
  }
}
