/**
 * The {@code dl-analyze} command line: {@link io.dlanalyze.cli.DlAnalyze} and one picocli command
 * class per sub-command; exit codes are in {@link io.dlanalyze.cli.ExitCodes}.
 */
@NullMarked
package io.dlanalyze.cli;

import org.jspecify.annotations.NullMarked;
