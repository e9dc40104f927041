/**
 * The built-in detectors, one class per rule, registered in {@link
 * io.dlanalyze.analyzer.BuiltInDetectors} and documented in {@code docs/detectors.md}, and the kit
 * they are built from: {@link io.dlanalyze.analyzer.detectors.Run} (runs of consecutive
 * observations where a condition holds, with first / longest / any-run policies) and {@link
 * io.dlanalyze.analyzer.detectors.BandRun} (runs outside a band); {@link
 * io.dlanalyze.analyzer.detectors.SlotStates} (a detector's state per stream, made on first use:
 * the one place per-layer state grows); {@link io.dlanalyze.analyzer.detectors.LayerRunsDetector}
 * (one of the engine's classification bits over every stream of a layer); {@link
 * io.dlanalyze.analyzer.detectors.LossGate} (the loss-trend gates); and readers shared by several
 * rules ({@link io.dlanalyze.analyzer.detectors.Rows}, {@link
 * io.dlanalyze.analyzer.detectors.GradientNorms}).
 */
@NullMarked
package io.dlanalyze.analyzer.detectors;

import org.jspecify.annotations.NullMarked;
