/**
 * Benchmark-only code, never in the command line tool: the JMH kernels and the DuckDB comparison of
 * docs/performance.md.
 */
@NullMarked
package io.dlanalyze.bench;

import org.jspecify.annotations.NullMarked;
