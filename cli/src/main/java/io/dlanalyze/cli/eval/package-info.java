/**
 * The {@code eval} command's scoring: a labelled manifest of traces, the analyzer's verdicts
 * against it, and the tables with their confidence intervals.
 */
@NullMarked
package io.dlanalyze.cli.eval;

import org.jspecify.annotations.NullMarked;
