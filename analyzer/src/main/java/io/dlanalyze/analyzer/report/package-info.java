/**
 * Renderers that lay a {@link io.dlanalyze.analyzer.Report} out as text, markdown or JSON, plus the
 * fixed-precision number formatting and phrases they share with detectors.
 */
package io.dlanalyze.analyzer.report;
