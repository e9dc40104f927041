/**
 * Two traces side by side ({@code dl-analyze compare}): aligned by step and by layer name and type,
 * where and how they diverge first, their loss and accuracy curves, and the findings only one of
 * them has.
 */
@NullMarked
package io.dlanalyze.analyzer.compare;

import org.jspecify.annotations.NullMarked;
