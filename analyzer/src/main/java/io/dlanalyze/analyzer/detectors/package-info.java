/**
 * The built-in detectors, one class per rule (about 50-150 lines each), registered in {@link
 * io.dlanalyze.analyzer.BuiltInDetectors} and documented in {@code docs/detectors.md}.
 */
package io.dlanalyze.analyzer.detectors;
