/**
 * Renderers that lay a {@link io.dlanalyze.analyzer.Report} out as text, markdown, JSON or HTML;
 * the words and numbers they share with the detectors are in {@code io.dlanalyze.analyzer.text}.
 */
@NullMarked
package io.dlanalyze.analyzer.report;

import org.jspecify.annotations.NullMarked;
