package io.dlanalyze.cli;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceWriter;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code dl-analyze generate OUT}: writes a deterministic synthetic trace, with injected faults.
 */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    versionProvider = ManifestVersionProvider.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Writes a synthetic trace of an MLP (Linear layers fc0, fc1, ...; ReLU, softmax output)"
          + " trained for a number of steps, with faults injected where asked. The same options"
          + " always give the same rows. The format comes from OUT's extension: .parquet, .arrow,"
          + " .arrows or .csv.",
      "Faults (--fault, repeatable): nan:LAYER:STEP, inf:LAYER:STEP, dead:LAYER:STEP,"
          + " frozen:LAYER:STEP, plateau:STEP, exploding:STEP[:RATE], vanishing:STEP[:RATE].",
    })
final class GenerateCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Parameters(
      index = "0",
      paramLabel = "OUT",
      description = "The trace to write; its extension picks the format.")
  Path output;

  @Option(
      names = "--layers",
      paramLabel = "N",
      defaultValue = "6",
      description = "Linear layers (default: ${DEFAULT-VALUE}).")
  int layers;

  @Option(
      names = "--steps",
      paramLabel = "N",
      defaultValue = "1000",
      description = "Training steps (default: ${DEFAULT-VALUE}).")
  long steps;

  @Option(
      names = "--steps-per-epoch",
      paramLabel = "N",
      defaultValue = "100",
      description = "Batches per epoch (default: ${DEFAULT-VALUE}).")
  int stepsPerEpoch;

  @Option(
      names = "--seed",
      paramLabel = "SEED",
      defaultValue = "1",
      description = "Seed of the noise (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--classes",
      paramLabel = "K",
      defaultValue = "10",
      description = "Output classes (default: ${DEFAULT-VALUE}).")
  int classes;

  @Option(
      names = "--optional-phases",
      description = "Also record the optional model-level phases input, target and learning_rate.")
  boolean optionalPhases;

  @Option(
      names = "--fault",
      paramLabel = "SPEC",
      description = "Inject a fault, e.g. nan:3:420 (layer 3 from step 420).")
  List<String> faults = new ArrayList<>();

  @Mixin TraceOutput.Options outputOptions;

  @Override
  public Integer call() {
    TraceFormat outputFormat = TraceOutput.outputFormat(spec, output);
    SyntheticTrace trace;
    try {
      SyntheticTrace.Builder builder =
          SyntheticTrace.builder()
              .layers(layers)
              .steps(steps)
              .stepsPerEpoch(stepsPerEpoch)
              .seed(seed)
              .numClasses(classes)
              .optionalPhases(optionalPhases);
      for (String text : faults) {
        builder.fault(Fault.parse(text));
      }
      trace = builder.build();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
    var options = outputOptions.writeOptions(spec);
    TraceOutput.warnUnusedOptions(spec, outputFormat, options);
    try (TraceReader reader = trace.open(ReadOptions.all())) {
      TraceWriter writer = TraceOutput.create(output, outputFormat, reader.metadata(), options);
      long rows = TraceOutput.copy(reader, writer);
      List<String> described = new ArrayList<>();
      for (Fault fault : trace.faults()) {
        described.add(fault.describe());
      }
      spec.commandLine()
          .getOut()
          .println(
              format(
                  ROOT,
                  "wrote %d rows (%d steps, %d layers, faults: %s) to %s",
                  rows,
                  steps,
                  layers,
                  described.isEmpty() ? "none" : String.join("; ", described),
                  output));
      spec.commandLine().getOut().flush();
    }
    return ExitCodes.OK;
  }
}
