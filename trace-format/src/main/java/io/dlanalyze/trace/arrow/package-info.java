/**
 * Arrow IPC traces (file and stream): {@link io.dlanalyze.trace.arrow.ArrowTraceReader} checks
 * every message and vector before it hands the batch over, {@link
 * io.dlanalyze.trace.arrow.ArrowTraceWriter} writes the v1 schema.
 */
@NullMarked
package io.dlanalyze.trace.arrow;

import org.jspecify.annotations.NullMarked;
