/**
 * Synthetic traces of a chosen size with an injected {@link io.dlanalyze.trace.synthetic.Fault},
 * for tests and benchmarks.
 */
@NullMarked
package io.dlanalyze.trace.synthetic;

import org.jspecify.annotations.NullMarked;
