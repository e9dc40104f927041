/**
 * The analyzer's public vocabulary: {@link io.dlanalyze.analyzer.Analyzer} runs {@link
 * io.dlanalyze.analyzer.Detector}s over a trace in one pass and returns a {@link
 * io.dlanalyze.analyzer.Report} of ranked {@link io.dlanalyze.analyzer.Finding}s; {@link
 * io.dlanalyze.analyzer.AnalysisOptions} selects the mode, thresholds and detectors. The
 * sub-packages are implementation: {@code engine} (the pass, ranking, report assembly), {@code
 * detectors} (built-in rules, one class each), {@code baselines} (replayed Keras callbacks) and
 * {@code report} (renderers).
 */
@NullMarked
package io.dlanalyze.analyzer;

import org.jspecify.annotations.NullMarked;
