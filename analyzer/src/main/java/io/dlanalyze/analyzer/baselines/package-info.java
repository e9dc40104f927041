/**
 * Keras' TerminateOnNaN and EarlyStopping replayed on a trace, reported beside the findings as the
 * DeepLocalize benchmark's baselines.
 */
package io.dlanalyze.analyzer.baselines;
