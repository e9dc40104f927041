/**
 * The nightly batch on Apache Spark 4: {@link io.dlanalyze.spark.SparkBatchJob} lists the traces on
 * any Hadoop-compatible file system ({@link io.dlanalyze.spark.HadoopDiscovery}), runs one task per
 * trace ({@link io.dlanalyze.spark.AnalyzeTraceFunction}) with the same analysis code as {@code
 * dl-analyze batch} ({@link io.dlanalyze.batch.TraceAnalysis}), and writes the same results tables
 * from the driver ({@link io.dlanalyze.spark.HadoopOutput}). Spark is a provided dependency;
 * parquet-mr, Jackson and Arrow are relocated inside the job jar so they never meet Spark's own
 * copies. See docs/nightly.md.
 */
@NullMarked
package io.dlanalyze.spark;

import org.jspecify.annotations.NullMarked;
