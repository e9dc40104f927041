/**
 * Checks a trace's values against the contract while it streams: {@link
 * io.dlanalyze.trace.validate.TraceValidator} reports each {@link
 * io.dlanalyze.trace.validate.Problem} it finds.
 */
@NullMarked
package io.dlanalyze.trace.validate;

import org.jspecify.annotations.NullMarked;
