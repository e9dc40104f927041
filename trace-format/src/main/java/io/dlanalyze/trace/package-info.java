/**
 * The trace format as code: the v1 schema ({@link io.dlanalyze.trace.Column}, {@link
 * io.dlanalyze.trace.Phase}), columnar {@link io.dlanalyze.trace.TraceBatch}es, and the {@link
 * io.dlanalyze.trace.TraceReader}s and {@link io.dlanalyze.trace.TraceWriter}s chosen by file
 * format; every read problem is a {@link io.dlanalyze.trace.TraceFormatException} with an error
 * code.
 */
@NullMarked
package io.dlanalyze.trace;

import org.jspecify.annotations.NullMarked;
