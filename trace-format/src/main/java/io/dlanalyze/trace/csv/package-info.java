/**
 * CSV traces: {@link io.dlanalyze.trace.csv.CsvTraceReader} scans bytes into {@link
 * io.dlanalyze.trace.TraceBatch} arrays, with the metadata in a JSON sidecar; {@link
 * io.dlanalyze.trace.csv.CsvTraceWriter} writes them.
 */
@NullMarked
package io.dlanalyze.trace.csv;

import org.jspecify.annotations.NullMarked;
