package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.batch.BatchListener;
import io.dlanalyze.batch.RunRow;
import io.dlanalyze.batch.RunStatus;
import io.dlanalyze.batch.TraceOutcome;
import io.dlanalyze.trace.Printable;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.jspecify.annotations.Nullable;

/** How the batch command shows progress on standard error. */
final class BatchProgress {
  private BatchProgress() {}

  /** One line per trace, for logs and pipes: {@code [3/200] buggy /data/a.arrows (412 ms)}. */
  static final class Lines implements BatchListener {
    private final PrintWriter err;

    Lines(PrintWriter err) {
      this.err = err;
    }

    @Override
    public void started(int traces) {
      err.println(
          format(ROOT, "dl-analyze: batch of %d %s", traces, traces == 1 ? "trace" : "traces"));
      err.flush();
    }

    @Override
    public void traceDone(TraceOutcome outcome, int done, int total) {
      err.println(format(ROOT, "[%d/%d] %s", done, total, describe(outcome)));
      err.flush();
    }
  }

  /** A progress bar redrawn in place, for terminals. */
  static final class Bar implements BatchListener {
    private final PrintStream stream;
    private @Nullable ProgressBar bar;

    Bar(PrintStream stream) {
      this.stream = stream;
    }

    @Override
    public void started(int traces) {
      bar =
          new ProgressBarBuilder()
              .setTaskName("batch")
              .setInitialMax(traces)
              .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
              .setUpdateIntervalMillis(200)
              .setConsumer(new ConsoleProgressBarConsumer(stream))
              .build();
    }

    @Override
    public void traceDone(TraceOutcome outcome, int done, int total) {
      Path name = Path.of(outcome.path()).getFileName();
      ProgressBar progress = requireNonNull(bar, "started() comes first");
      progress.setExtraMessage(
          Printable.escapeText(name == null ? outcome.path() : name.toString()));
      progress.stepTo(done);
    }

    @Override
    public void finished() {
      if (bar != null) {
        bar.setExtraMessage("");
        bar.close();
      }
    }
  }

  /** {@code buggy /data/a.arrows (412 ms)}, {@code unchanged /data/b.arrows}, {@code error ...}. */
  static String describe(TraceOutcome outcome) {
    RunRow run = outcome.run();
    if (outcome.skipped()) {
      return "unchanged " + Printable.escape(run.path());
    }
    if (run.status() == RunStatus.ERROR) {
      return format(
          ROOT,
          "error %s (%d ms): %s",
          Printable.escape(run.path()),
          run.analysisMillis(),
          Printable.escape(run.error()));
    }
    return format(
        ROOT, "%s %s (%d ms)", run.verdict(), Printable.escape(run.path()), run.analysisMillis());
  }
}
