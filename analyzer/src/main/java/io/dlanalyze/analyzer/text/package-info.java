/**
 * Words and numbers for report sentences, shared by detectors, the root-cause analysis and the
 * renderers: fixed-precision, locale-independent number formatting ({@link
 * io.dlanalyze.analyzer.text.Numbers}) and the phrases that name a phase or a place ({@link
 * io.dlanalyze.analyzer.text.Phrases}).
 */
@NullMarked
package io.dlanalyze.analyzer.text;

import org.jspecify.annotations.NullMarked;
