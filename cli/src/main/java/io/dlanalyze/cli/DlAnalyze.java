package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.batch.HeapAdvice;
import io.dlanalyze.trace.Printable;
import io.dlanalyze.trace.TraceFormatException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code dl-analyze} command. {@code dl-analyze TRACE} is short for {@code dl-analyze analyze
 * TRACE}.
 */
@Command(
    name = "dl-analyze",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Finds where a deep-learning training run went wrong, from its recorded trace.",
      "Replays DeepLocalize (ICSE 2021) and its successors over a Parquet, Arrow IPC or CSV"
          + " trace and prints a ranked localization report.",
      "",
      "  dl-analyze TRACE            same as: dl-analyze analyze TRACE",
    },
    exitCodeListHeading = "%nExit codes:%n")
public final class DlAnalyze implements Runnable {
  @Spec CommandSpec spec;

  @Option(
      names = "--verbose",
      scope = CommandLine.ScopeType.INHERIT,
      description = "Print stack traces for errors, and progress details.")
  boolean verbose;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** A subcommand by name, made only when the command line needs it. */
  private record Subcommand(String name, Supplier<Object> factory) {}

  /** The subcommands, in the order {@code --help} lists them. */
  private static final List<Subcommand> SUBCOMMANDS =
      List.of(
          new Subcommand("analyze", AnalyzeCommand::new),
          new Subcommand("batch", BatchCommand::new),
          new Subcommand("compare", CompareCommand::new),
          new Subcommand("inspect", InspectCommand::new),
          new Subcommand("watch", WatchCommand::new),
          new Subcommand("convert", ConvertCommand::new),
          new Subcommand("generate", GenerateCommand::new),
          new Subcommand("eval", EvalCommand::new),
          new Subcommand("detectors", DetectorsCommand::new));

  /** The subcommands, in the order {@code --help} lists them. */
  static List<Object> subcommands() {
    List<Object> commands = new ArrayList<>();
    for (Subcommand sub : SUBCOMMANDS) {
      commands.add(sub.factory().get());
    }
    return commands;
  }

  /** Builds the command line with all its subcommands, output streams and error handling. */
  public static CommandLine commandLine(PrintWriter out, PrintWriter err) {
    return commandLine(out, err, null);
  }

  /**
   * Builds the command line for {@code args}: with only the subcommand they name when they name one
   * (picocli builds a command's model from its annotations, about 30 ms a command at start-up),
   * with all of them otherwise ({@code --help}, no arguments, a bad name).
   */
  private static CommandLine commandLine(
      PrintWriter out, PrintWriter err, String @Nullable [] args) {
    CommandLine cli = new CommandLine(new DlAnalyze());
    String only = args == null ? null : subcommandNamed(args);
    for (Subcommand sub : SUBCOMMANDS) {
      if (only == null || sub.name().equals(only)) {
        cli.addSubcommand(sub.name(), sub.factory().get());
      }
    }
    applyExitCodeList(cli);
    HelpWrap.install(cli);
    cli.setOut(out);
    cli.setErr(err);
    cli.setCaseInsensitiveEnumValuesAllowed(true);
    cli.setExecutionExceptionHandler(DlAnalyze::handleExecutionException);
    cli.setParameterExceptionHandler(DlAnalyze::handleParameterException);
    return cli;
  }

  /**
   * The subcommand the arguments run: the first argument that is not an option, when it names a
   * subcommand; {@code analyze} when it does not (a trace); null when there is none.
   */
  private static @Nullable String subcommandNamed(String[] args) {
    for (String arg : args) {
      if (arg.equals("--")) {
        return null;
      }
      if (arg.startsWith("-")) {
        continue;
      }
      for (Subcommand sub : SUBCOMMANDS) {
        if (sub.name().equals(arg)) {
          return arg;
        }
      }
      return "analyze";
    }
    return null;
  }

  /**
   * Whether an option of the default command (analyze) is followed by a value; its model is built
   * on first use, so a command line with no option before its first argument does not pay for it.
   */
  private static final class DefaultCommandOptions implements Predicate<String> {
    private @Nullable CommandSpec analyze;

    @Override
    public boolean test(String option) {
      if (analyze == null) {
        analyze = new CommandLine(new AnalyzeCommand()).getCommandSpec();
      }
      CommandLine.Model.OptionSpec spec = analyze.findOption(option);
      return spec != null && spec.arity().max() > 0;
    }
  }

  private static List<String> commandNames() {
    List<String> names = new ArrayList<>();
    for (Subcommand sub : SUBCOMMANDS) {
      names.add(sub.name());
    }
    return names;
  }

  private static void applyExitCodeList(CommandLine cli) {
    cli.getCommandSpec()
        .usageMessage()
        .exitCodeListHeading("%nExit codes:%n")
        .exitCodeList(ExitCodes.helpList());
    for (CommandLine sub : cli.getSubcommands().values()) {
      applyExitCodeList(sub);
    }
  }

  /** Runs one command line and returns its exit code; the entry point of tests. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    Optional<String> mistyped =
        Suggestions.unknownCommand(args, commandNames(), new DefaultCommandOptions());
    if (mistyped.isPresent()) {
      err.println("dl-analyze: error: " + Printable.escape(mistyped.get()));
      err.println("Try 'dl-analyze --help' for more information.");
      err.flush();
      return ExitCodes.USAGE;
    }
    CommandLine cli = commandLine(out, err, args);
    int code;
    try {
      code = cli.execute(withDefaultCommand(cli, args));
    } catch (OutOfMemoryError e) {
      // Memory grows with the layers and phases of a trace (and with the row-group size), not
      // its length: say how to give the JVM more. No output file was written (they are renamed
      // into place only when complete); a report on standard output may have been begun.
      err.println(outOfMemory(Runtime.getRuntime().maxMemory()));
      code = ExitCodes.SOFTWARE;
    }
    return checkStandardOutput(out, err, code);
  }

  /**
   * A report that did not reach standard output (a full disk, a closed pipe, a device error) is an
   * output error: exit 5 with one line, unless the command already failed with another code than 3.
   */
  private static int checkStandardOutput(PrintWriter out, PrintWriter err, int code) {
    out.flush();
    if (out.checkError()) {
      String reason = out instanceof StandardOutput stdout ? stdout.failure() : null;
      err.println(
          "dl-analyze: error: cannot write to standard output: "
              + Printable.escape(reason == null ? "write error" : reason));
      if (code == ExitCodes.OK || code == ExitCodes.FAULT_FOUND) {
        code = ExitCodes.OUTPUT_ERROR;
      }
    }
    err.flush();
    return code;
  }

  /** The out-of-memory line: the heap it had, and a larger one to try ({@link HeapAdvice}). */
  static String outOfMemory(long maxHeapBytes) {
    return format(
        ROOT,
        "dl-analyze: error: out of memory with a heap of %d MB (a trace with very many layers, or"
            + " very large row groups); run with more, e.g. DL_ANALYZE_JAVA_OPTS=%s",
        maxHeapBytes >> 20,
        HeapAdvice.larger(maxHeapBytes));
  }

  public static void main(String[] args) {
    PrintWriter out = StandardOutput.stdout();
    PrintWriter err =
        new PrintWriter(new java.io.OutputStreamWriter(System.err, StandardCharsets.UTF_8), true);
    System.exit(run(out, err, args));
  }

  /** {@code dl-analyze TRACE [options]} becomes {@code dl-analyze analyze TRACE [options]}. */
  static String[] withDefaultCommand(CommandLine cli, String[] args) {
    for (String arg : args) {
      if (arg.equals("--")) {
        break;
      }
      if (arg.startsWith("-")) {
        continue;
      }
      if (cli.getSubcommands().containsKey(arg) || !cli.getSubcommands().containsKey("analyze")) {
        return args;
      }
      List<String> rewritten = new ArrayList<>(args.length + 1);
      rewritten.add("analyze");
      rewritten.addAll(Arrays.asList(args));
      return rewritten.toArray(String[]::new);
    }
    return args;
  }

  private static boolean verbose(CommandLine cli) {
    CommandLine root = cli;
    while (root.getParent() != null) {
      root = root.getParent();
    }
    return root.getCommand() instanceof DlAnalyze top && top.verbose
        || cli.getParseResult() != null && cli.getParseResult().hasMatchedOption("--verbose");
  }

  private static int handleExecutionException(
      Exception e, CommandLine cli, CommandLine.ParseResult parseResult) {
    PrintWriter err = cli.getErr();
    boolean verbose = verbose(cli);
    int code = exitCode(e);
    String message;
    if (e instanceof CliException || e instanceof TraceFormatException) {
      message = e.getMessage();
    } else {
      message = "internal error: " + e;
      verbose = true;
    }
    err.println("dl-analyze: error: " + Printable.escape(message));
    if (verbose) {
      e.printStackTrace(err);
    }
    err.flush();
    return code;
  }

  /**
   * The exit code of a failure, by the one convention of {@link ExitCodes}: the code the failure
   * carries from where it happened (a {@link CliException}'s, a trace error's {@link
   * io.dlanalyze.trace.ErrorCode}); anything else is a bug (1), whatever its class: an {@code
   * UncheckedIOException} from a resource missing in the jar is not an output error.
   */
  static int exitCode(Exception e) {
    if (e instanceof CliException ce) {
      return ce.exitCode();
    }
    if (e instanceof TraceFormatException tfe) {
      return ExitCodes.of(tfe.code());
    }
    return ExitCodes.SOFTWARE;
  }

  private static int handleParameterException(CommandLine.ParameterException e, String[] args) {
    CommandLine cli = e.getCommandLine();
    PrintWriter err = cli.getErr();
    err.println(
        "dl-analyze: error: "
            + Printable.escape(Suggestions.unknownOption(e).orElse(e.getMessage())));
    err.println("Try '" + cli.getCommandSpec().qualifiedName() + " --help' for more information.");
    err.flush();
    return ExitCodes.USAGE;
  }
}
