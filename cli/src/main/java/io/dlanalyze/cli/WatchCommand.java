package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.dlanalyze.analyzer.AnalysisListener;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.Severity;
import io.dlanalyze.analyzer.report.JsonReportRenderer;
import io.dlanalyze.analyzer.report.RenderOptions;
import io.dlanalyze.analyzer.text.Numbers;
import io.dlanalyze.trace.AtomicOutput;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.PartsTraceReader;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.arrow.ArrowTraceReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code dl-analyze watch TRACE}: follows an Arrow IPC stream (or a directory of part files) while
 * the run writes it, prints each finding the step it is conclusive, and can stop the run (stop
 * file, signal).
 */
@Command(
    name = "watch",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Follows a trace that a training run is writing (an Arrow IPC stream .arrows or file"
          + " .arrow, or a directory that gains part files part-00000.arrows, part-00001.arrows..."
          + " or Parquet parts), the way tail -f follows a file, whether or not it exists yet; runs"
          + " the detectors step by step and prints each finding as soon as its evidence is"
          + " conclusive. On a terminal a status line shows the steps seen, their rate and the last"
          + " loss.",
      "Ends at the writer's end-of-stream marker (in a directory: on the last part, when no new"
          + " part follows within --part-wait seconds), after --idle seconds without new data, or"
          + " at the first finding at or above --until. --stop-file and --signal stop the run at"
          + " that finding (severity --until, else error); watch then waits for the writer to close"
          + " the stream (at most --drain seconds) so the final report covers the whole run.",
      "Exits with 3 when a finding reached --until (or, with --stop-file/--signal, error), else"
          + " 0.",
    })
final class WatchCommand implements Callable<Integer> {
  /** Output format. */
  enum Format {
    TEXT,
    JSON
  }

  private static final JsonFactory JSON = new JsonFactory();

  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "TRACE",
      description =
          "The Arrow IPC stream (.arrows) or file (.arrow) the run writes, or the directory it"
              + " writes part files into (any other name); it may not exist yet.")
  Path trace;

  @Option(
      names = "--format",
      paramLabel = "FORMAT",
      defaultValue = "text",
      description = "text, or json: one JSON object per line (default: ${DEFAULT-VALUE}).")
  Format format;

  @Option(
      names = "--until",
      paramLabel = "SEVERITY",
      description =
          "End at the first finding of this severity or more (info, warning, error, critical);"
              + " exit code 3.")
  @Nullable String until;

  @Option(
      names = "--stop-file",
      paramLabel = "PATH",
      description =
          "At that finding, write PATH (one line: the reason); the recorders check it every step"
              + " and end training cleanly.")
  @Nullable Path stopFile;

  @Option(
      names = "--signal",
      paramLabel = "PID[:SIG]",
      description =
          "At that finding, send signal SIG (default INT; a name such as TERM or USR1, or a"
              + " number) to process PID.")
  @Nullable String signal;

  @Option(
      names = "--idle",
      paramLabel = "SECONDS",
      defaultValue = "0",
      description =
          "End after this long without new data, also while the file does not exist yet (0:"
              + " never) (default: ${DEFAULT-VALUE}).")
  double idle;

  @Option(
      names = "--drain",
      paramLabel = "SECONDS",
      defaultValue = "30",
      description =
          "After stopping the run, wait at most this long for the writer to close the stream"
              + " (default: ${DEFAULT-VALUE}).")
  double drain;

  @Option(
      names = "--part-wait",
      paramLabel = "SECONDS",
      defaultValue = "5",
      description =
          "In a directory of parts: after the last part ended, wait this long for a next part"
              + " before the watch ends; a part that stopped growing while a later part exists is"
              + " left after as long (default: ${DEFAULT-VALUE}).")
  double partWait;

  @Option(
      names = "--poll",
      paramLabel = "MILLIS",
      defaultValue = "20",
      description = "How often to look for new data (default: ${DEFAULT-VALUE}).")
  long poll;

  @Option(
      names = "--report",
      paramLabel = "FILE",
      description =
          "Write the final report as JSON to FILE (the same as analyze --format json of the"
              + " trace).")
  @Nullable Path report;

  private boolean terminal;
  private @Nullable StreamFollower follower;
  private @Nullable Severity trigger;
  private long pid = -1;
  private String signalName = "INT";
  private boolean triggered;
  private long steps;
  private long lastStep = -1;
  private double lastLoss = Double.NaN;
  private int printed;
  private final java.util.Set<String> announced = new java.util.HashSet<>();
  private long started;
  private long lastStatus;
  private boolean statusShown;

  @Override
  public Integer call() throws IOException {
    options();
    terminal = format == Format.TEXT && System.console() != null;
    started = System.nanoTime();
    boolean directory = followsDirectory(trace);
    follower = new StreamFollower(trace, directory, poll, idle, partWait, this::status);
    line("watching " + trace + (follower.present() ? "" : " (waiting for it to appear)"));
    if (!follower.awaitFile()) {
      end("idle", null);
      throw new TraceFormatException(
          ErrorCode.NOT_FOUND,
          trace,
          null,
          format(
              ROOT,
              "%s after waiting %s s (--idle)",
              directory ? "no part file" : "no such file",
              Numbers.format(idle)));
    }
    AnalysisOptions analysis = AnalysisOptions.defaults();
    Analyzer analyzer = new Analyzer();
    ReadOptions read = new ReadOptions(analyzer.projection(analysis), 1 << 16);
    Report result;
    try (TraceReader reader =
        directory
            ? PartsTraceReader.follow(trace, read, follower)
            : ArrowTraceReader.follow(trace, streamFormat(trace), read, follower)) {
      result = analyzer.analyze(reader, analysis, new Listener());
    }
    clearStatus();
    String reason =
        triggered && stopFile == null && pid < 0
            ? "until"
            : follower.idled() ? "idle" : result.trace().truncated() ? "drain" : "end_of_stream";
    if (report != null) {
      try {
        AtomicOutput.writeString(
            report, new JsonReportRenderer(new RenderOptions(false, false)).render(result));
      } catch (IOException e) {
        throw new CliException(
            ExitCodes.OUTPUT_ERROR,
            format(ROOT, "%s: cannot write the report: %s", report, e.getMessage()),
            e);
      }
    }
    for (Finding f : result.findings()) {
      // what only the end of the run could tell (trends over the whole run, a raised severity)
      if (!announced.contains(key(f))) {
        finding(result.trace().lastStep(), f);
      }
    }
    end(reason, result);
    return triggered ? ExitCodes.FAULT_FOUND : ExitCodes.OK;
  }

  /**
   * True when the trace is a directory of parts: an existing directory, or a path that does not
   * exist yet and is not named like an Arrow IPC stream or file.
   */
  static boolean followsDirectory(Path trace) {
    if (Files.isDirectory(trace)) {
      return true;
    }
    String name = trace.getFileName() == null ? "" : trace.getFileName().toString();
    return !Files.exists(trace) && !name.endsWith(".arrows") && !name.endsWith(".arrow");
  }

  /** An Arrow IPC file by its name ({@code .arrow}), else a stream. */
  private static TraceFormat streamFormat(Path trace) {
    String name = trace.getFileName() == null ? "" : trace.getFileName().toString();
    return name.endsWith(".arrow") ? TraceFormat.ARROW_FILE : TraceFormat.ARROW_STREAM;
  }

  private void options() {
    if (until != null) {
      try {
        trigger = Severity.fromWireName(until);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), "--until: " + e.getMessage(), e);
      }
    } else if (stopFile != null || signal != null) {
      trigger = Severity.ERROR;
    }
    if (signal != null) {
      String[] parts = signal.split(":", 2);
      try {
        pid = Long.parseLong(parts[0]);
      } catch (NumberFormatException e) {
        pid = -1;
      }
      if (pid <= 0) {
        throw new ParameterException(
            spec.commandLine(),
            format(ROOT, "--signal must be PID or PID:SIG with a positive PID: %s", signal));
      }
      if (parts.length == 2) {
        signalName = parts[1].toUpperCase(ROOT).replaceFirst("^SIG", "");
        if (!signalName.matches("[A-Z][A-Z0-9]{0,9}|[0-9]{1,2}")) {
          throw new ParameterException(
              spec.commandLine(),
              format(
                  ROOT,
                  "--signal: not a signal name or number: %s (expected e.g. INT, TERM, USR1, 15)",
                  parts[1]));
        }
      }
    }
    if (!(idle >= 0) || !(drain >= 0) || !(partWait >= 0) || poll < 1 || poll > 60_000) {
      throw new ParameterException(
          spec.commandLine(),
          format(
              ROOT,
              "--idle, --drain and --part-wait must be 0 or more seconds, --poll 1 to 60000 ms:"
                  + " %s, %s, %s, %d",
              idle,
              drain,
              partWait,
              poll));
    }
  }

  /** The command's standard output. */
  private PrintWriter out() {
    return spec.commandLine().getOut();
  }

  /** Hears the engine: prints findings, stops the run at the trigger. */
  private final class Listener implements AnalysisListener {
    @Override
    public void findings(long step, List<Finding> findings) {
      for (Finding f : findings) {
        finding(step, f);
        if (!triggered && trigger != null && f.severity().atLeast(trigger)) {
          triggered = true;
          stopRun(step, f);
        }
      }
    }

    @Override
    public boolean stepCompleted(long step, int epoch, double loss) {
      steps++;
      lastStep = step;
      if (!Double.isNaN(loss)) {
        lastLoss = loss;
      }
      status();
      // without a run to stop, --until ends the watch at once
      return !(triggered && until != null && stopFile == null && pid < 0);
    }
  }

  private void finding(long step, Finding f) {
    printed++;
    announced.add(key(f));
    if (format == Format.JSON) {
      json(
          g -> {
            g.writeStringField("event", "finding");
            g.writeNumberField("step", step);
            g.writeStringField("detector", f.detector());
            g.writeStringField("severity", f.severity().wireName());
            g.writeStringField("layer", f.layerName());
            g.writeStringField("phase", f.phase().wireName());
            g.writeNumberField("first_step", f.firstStep());
            g.writeStringField("message", f.message());
          });
    } else {
      line(
          format(
              ROOT,
              "step %d: %s %s in %s %s from step %d: %s",
              step,
              f.severity().wireName(),
              f.detector(),
              f.layerName(),
              f.phase().wireName(),
              f.firstStep(),
              f.message()));
    }
  }

  /** What tells two findings apart in the output: detector, layer, phase and severity. */
  private static String key(Finding f) {
    return String.join(
        "\u0000", f.detector(), f.layerName(), f.phase().wireName(), f.severity().wireName());
  }

  /** Writes the stop file and sends the signal; from then on waits at most --drain seconds. */
  private void stopRun(long step, Finding f) {
    String reason =
        format(
            ROOT,
            "dl-analyze watch: %s %s in %s %s at step %d",
            f.severity().wireName(),
            f.detector(),
            f.layerName(),
            f.phase().wireName(),
            f.firstStep());
    if (stopFile != null) {
      try {
        AtomicOutput.writeString(stopFile, reason + "\n");
      } catch (IOException e) {
        throw new CliException(
            ExitCodes.OUTPUT_ERROR,
            format(ROOT, "%s: cannot write the stop file: %s", stopFile, e.getMessage()),
            e);
      }
    }
    String sent = null;
    if (pid > 0) {
      sent = sendSignal();
    }
    if (stopFile != null || pid > 0) {
      requireNonNull(follower, "call() made it").giveUpAt(drain);
    }
    String signalResult = sent;
    if (format == Format.JSON) {
      json(
          g -> {
            g.writeStringField("event", "stop");
            g.writeNumberField("step", step);
            g.writeStringField("reason", reason);
            if (stopFile != null) {
              g.writeStringField("stop_file", stopFile.toString());
            }
            if (signalResult != null) {
              g.writeStringField("signal", signalResult);
            }
          });
    } else if (stopFile != null || pid > 0) {
      line(
          "stopping the run: "
              + (stopFile != null ? "wrote " + stopFile : "")
              + (stopFile != null && signalResult != null ? ", " : "")
              + (signalResult != null ? signalResult : ""));
    }
  }

  private String sendSignal() {
    try {
      Process kill =
          new ProcessBuilder("kill", "-s", signalName, Long.toString(pid))
              .redirectErrorStream(true)
              .start();
      String output =
          new String(kill.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
              .strip();
      if (!kill.waitFor(10, TimeUnit.SECONDS) || kill.exitValue() != 0) {
        return format(ROOT, "could not send SIG%s to %d: %s", signalName, pid, output);
      }
      return format(ROOT, "sent SIG%s to %d", signalName, pid);
    } catch (IOException e) {
      return format(ROOT, "could not send SIG%s to %d: %s", signalName, pid, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return format(ROOT, "could not send SIG%s to %d: interrupted", signalName, pid);
    }
  }

  private void end(String reason, @Nullable Report result) {
    if (format == Format.JSON) {
      json(
          g -> {
            g.writeStringField("event", "end");
            g.writeStringField("reason", reason);
            g.writeNumberField("steps", steps);
            g.writeNumberField("last_step", lastStep);
            if (result != null) {
              g.writeStringField("verdict", result.verdict().wireName());
              g.writeNumberField("findings", result.findings().size());
              String stop = result.trace().metadata().get("dltrace.stop_reason");
              if (stop != null) {
                g.writeStringField("stop_reason", stop);
              }
            }
          });
      return;
    }
    String why =
        switch (reason) {
          case "idle" -> format(ROOT, "no new data for %s s (--idle)", Numbers.format(idle));
          case "until" -> "a finding reached --until " + until;
          case "drain" -> "the writer did not close the stream within --drain";
          default -> "end of stream";
        };
    if (result == null) {
      line("watch ended: " + why);
      return;
    }
    String stop = result.trace().metadata().get("dltrace.stop_reason");
    line(
        format(
            ROOT,
            "watch ended (%s) after %d steps: %s, %d findings%s",
            why,
            steps,
            result.verdict().wireName(),
            result.findings().size(),
            stop == null ? "" : "; the run stopped: " + stop));
  }

  private void status() {
    if (!terminal) {
      return;
    }
    long now = System.nanoTime();
    if (now - lastStatus < 200_000_000L) {
      return;
    }
    lastStatus = now;
    double seconds = (now - started) / 1e9;
    out()
        .print(
            format(
                ROOT,
                "\r\033[Kstep %d, %d steps, %s steps/s, loss %s, %d findings",
                lastStep,
                steps,
                Numbers.format(steps / Math.max(seconds, 1e-9), 3),
                Numbers.format(lastLoss),
                printed));
    out().flush();
    statusShown = true;
  }

  private void clearStatus() {
    if (statusShown) {
      out().print("\r\033[K");
      statusShown = false;
    }
  }

  private void line(String text) {
    if (format == Format.JSON) {
      if (text.startsWith("watching ")) {
        json(
            g -> {
              g.writeStringField("event", "start");
              g.writeStringField("trace", trace.toString());
              g.writeBooleanField("exists", requireNonNull(follower, "call() made it").present());
            });
      }
      return;
    }
    clearStatus();
    out().println(text);
    out().flush();
  }

  /** One JSON object on one line. */
  private interface Fields {
    void write(JsonGenerator g) throws IOException;
  }

  private void json(Fields fields) {
    StringWriter text = new StringWriter();
    try (JsonGenerator g = JSON.createGenerator(text)) {
      g.writeStartObject();
      fields.write(g);
      g.writeEndObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    out().println(text);
    out().flush();
  }
}
