/**
 * Keras' TerminateOnNaN and EarlyStopping replayed on a trace, reported beside the findings as the
 * DeepLocalize benchmark's baselines.
 */
@NullMarked
package io.dlanalyze.analyzer.baselines;

import org.jspecify.annotations.NullMarked;
