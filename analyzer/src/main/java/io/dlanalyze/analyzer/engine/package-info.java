/**
 * The single pass over a trace: cuts batches at step boundaries, scatters each step into flat
 * per-(layer, phase) arrays, drives the detectors and baselines, ranks the findings and assembles
 * the report.
 */
@NullMarked
package io.dlanalyze.analyzer.engine;

import org.jspecify.annotations.NullMarked;
