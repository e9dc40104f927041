/**
 * TensorBoard event files read as traces: {@link
 * io.dlanalyze.trace.tensorboard.TensorBoardTraceReader} reads the event files of a run (its
 * scalars and histograms) and maps their tags to trace columns.
 */
@NullMarked
package io.dlanalyze.trace.tensorboard;

import org.jspecify.annotations.NullMarked;
