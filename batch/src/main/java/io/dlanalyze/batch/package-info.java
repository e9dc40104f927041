/**
 * The nightly job's engine, shared by {@code dl-analyze batch} and the Spark job: which files are
 * traces ({@link io.dlanalyze.batch.TraceNames}, {@link io.dlanalyze.batch.LocalDiscovery}), when a
 * trace is unchanged ({@link io.dlanalyze.batch.Fingerprints}), one analysis turned into table rows
 * ({@link io.dlanalyze.batch.TraceAnalysis}), the parallel local run ({@link
 * io.dlanalyze.batch.BatchRunner}), the results tables ({@link io.dlanalyze.batch.ResultsTables})
 * and the summaries ({@link io.dlanalyze.batch.SummaryFormat}). Nothing here depends on Spark or
 * Hadoop: the Spark module plugs its file system in through {@link
 * io.dlanalyze.batch.Fingerprints.Part} and reuses everything else. {@code docs/nightly.md}
 * documents the rules and the tables.
 */
@NullMarked
package io.dlanalyze.batch;

import org.jspecify.annotations.NullMarked;
