/**
 * Parquet traces: {@link io.dlanalyze.trace.parquet.ParquetTraceReader} decodes pages in bulk into
 * {@link io.dlanalyze.trace.TraceBatch} arrays, {@link
 * io.dlanalyze.trace.parquet.ParquetTraceWriter} writes the v1 schema. Both run on parquet-mr
 * without Hadoop on the class path.
 */
@NullMarked
package io.dlanalyze.trace.parquet;

import org.jspecify.annotations.NullMarked;
